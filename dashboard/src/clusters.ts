// Clusters of attempts: each student's latest run of a cell (or answer to a
// test question), grouped by the shape of its code, the common failing ones first.

import { getJson } from './api.js';
import {
  clusterAudience,
  clusterParams,
  clusterSummary,
  memberNote,
  outcomeText,
  subjectOf,
  type ClusterSubject
} from './clusterQuery.js';
import { diffBlock } from './diffView.js';
import type { Compose } from './compose.js';
import { byId, el, setText, timeOf } from './dom.js';
import { lineDiff } from './linediff.js';
import { fillOptions } from './overview.js';
import { NotebookChoices } from './progress.js';
import type {
  AttemptCluster,
  ClusterMember,
  ClustersOut,
  QuestionsOut
} from './wire.gen.js';

const METHOD_NOTES: Record<AttemptCluster['method'], string> = {
  ast: '',
  empty: '',
  tokens: ' · does not parse',
  missing: ' · no answer run'
};

export class CodeView {
  private readonly notebook = byId<HTMLSelectElement>('code-notebook');
  private readonly cell = byId<HTMLInputElement>('code-cell');
  private readonly question = byId<HTMLSelectElement>('code-question');
  private readonly root = byId<HTMLOListElement>('clusters');
  private readonly notebooks = new NotebookChoices();
  private visible = false;

  private shown: { subject: ClusterSubject; body: ClustersOut } | null = null;

  constructor(
    private readonly openStudent: (student: string) => void,
    private readonly compose?: Compose
  ) {
    byId('code-form').addEventListener('submit', event => {
      event.preventDefault();
      void this.load();
    });
    this.notebook.addEventListener('change', () => void this.fillQuestions());
    // A question's answers are found from its test cell: the cell number is not used.
    this.question.addEventListener('change', () => {
      this.cell.disabled = this.question.value !== '';
    });
  }

  setVisible(visible: boolean): void {
    if (visible && !this.visible) {
      void this.fillNotebooks();
    }
    this.visible = visible;
  }

  /** Open the view on one cell (e.g. from a hotspot). */
  async showCell(notebook: string, cellIndex: number): Promise<void> {
    await this.fillNotebooks(notebook);
    this.question.value = '';
    this.cell.disabled = false;
    this.cell.value = String(cellIndex);
    await this.load();
  }

  private async fillNotebooks(selected?: string): Promise<void> {
    const paths = await this.notebooks.load();
    fillOptions(
      this.notebook,
      null,
      paths,
      selected ?? (this.notebook.value || null)
    );
    await this.fillQuestions();
  }

  /** The chosen notebook's test questions, in cell order (the choice kept if still there). */
  private async fillQuestions(): Promise<void> {
    const notebook = this.notebook.value;
    const list = notebook
      ? await getJson<QuestionsOut>('/api/v1/questions', { notebook })
      : null;
    if (this.notebook.value !== notebook) {
      return; // another notebook was chosen meanwhile: its answer fills the list
    }
    // Read after the request: a question chosen while it ran is kept.
    const kept = this.question.value;
    const names = list ? list.questions.map(q => q.question) : [];
    this.question.replaceChildren(
      el('option', { value: '', text: 'none: the cell number' }),
      ...names.map(name => el('option', { value: name, text: name }))
    );
    this.question.value = names.includes(kept) ? kept : '';
    this.cell.disabled = this.question.value !== '';
  }

  private async load(): Promise<void> {
    const subject = subjectOf(
      this.notebook.value,
      this.cell.value,
      this.question.value
    );
    if ('problem' in subject) {
      setText(byId('code-summary'), subject.problem);
      return;
    }
    const body = await getJson<ClustersOut>(
      '/api/v1/clusters',
      clusterParams(subject)
    );
    setText(byId('code-summary'), clusterSummary(body));
    this.shown = { subject, body };
    this.root.replaceChildren(...body.clusters.map(c => this.item(c)));
  }

  private item(cluster: AttemptCluster): HTMLElement {
    const ok = cluster.passing;
    const outcomes = Object.entries(cluster.outcomes)
      .map(([outcome, n]) => `${n} ${outcome}`)
      .join(', ');
    const members = el('ul', { class: 'cluster-members' });
    for (const member of cluster.members) {
      members.append(this.member(member, cluster.representative ?? ''));
    }
    return el(
      'li',
      { class: `cluster ${ok ? 'cluster-ok' : 'cluster-failed'}` },
      el(
        'details',
        { 'data-fingerprint': cluster.fingerprint },
        el(
          'summary',
          {},
          el('span', { class: 'cluster-size', text: String(cluster.size) }),
          el('span', {
            class: 'cluster-unit',
            text: cluster.size === 1 ? ' student' : ' students'
          }),
          el('span', {
            class: `outcome ${ok ? 'ok' : 'failed'}`,
            text: outcomeText(cluster)
          }),
          el('span', {
            class: 'cluster-detail muted',
            text: `${outcomes}${METHOD_NOTES[cluster.method]}`
          })
        ),
        el(
          'pre',
          { class: 'run-code cluster-code' },
          el('code', { text: cluster.representative ?? '' })
        ),
        this.messageButton(cluster),
        members
      )
    );
  }

  /** One click: a message to the cluster's students (those in it when it is sent). */
  private messageButton(cluster: AttemptCluster): HTMLElement | null {
    const compose = this.compose;
    const shown = this.shown;
    if (!compose || !shown) {
      return null;
    }
    const count = `${cluster.size} student${cluster.size === 1 ? '' : 's'}`;
    const button = el('button', {
      type: 'button',
      class: 'small cluster-message',
      text: `Message these ${count}`
    });
    button.addEventListener('click', () => {
      const { audience, label } = clusterAudience(shown.subject, cluster);
      compose(audience, label);
    });
    return button;
  }

  private member(member: ClusterMember, representative: string): HTMLElement {
    const name = member.userName || member.student;
    const open = el('button', {
      type: 'button',
      class: 'link',
      'data-student': member.student,
      text: member.teamName ? `${name} (${member.teamName})` : name
    });
    open.addEventListener('click', () => this.openStudent(member.student));
    const item = el(
      'li',
      { class: 'cluster-member' },
      open,
      el('span', {
        class: 'muted',
        text: memberNote(
          member,
          this.shown?.body ?? { cellIndex: null },
          timeOf
        )
      })
    );
    const code = member.code ?? '';
    if (code !== representative) {
      const toggle = el('button', {
        type: 'button',
        class: 'small',
        'aria-expanded': 'false',
        text: 'How it differs'
      });
      toggle.addEventListener('click', () => {
        const shown = item.querySelector('.diff');
        if (shown) {
          shown.remove();
          toggle.setAttribute('aria-expanded', 'false');
        } else {
          item.append(
            diffBlock(
              lineDiff(representative, code),
              `${name}'s attempt compared with the cluster's`
            )
          );
          toggle.setAttribute('aria-expanded', 'true');
        }
      });
      item.append(' ', toggle);
    }
    return item;
  }
}
