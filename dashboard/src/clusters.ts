// Clusters of attempts: each student's latest run of a cell, grouped by the
// shape of its code, the common failing attempts first.

import { getJson } from './api.js';
import { diffBlock } from './diffView.js';
import type { Compose } from './compose.js';
import { byId, el, setText, timeOf } from './dom.js';
import { lineDiff } from './linediff.js';
import { fillOptions } from './overview.js';
import { NotebookChoices } from './progress.js';
import type { AttemptCluster, ClusterMember, ClustersOut } from './wire.gen.js';

export class CodeView {
  private readonly notebook = byId<HTMLSelectElement>('code-notebook');
  private readonly cell = byId<HTMLInputElement>('code-cell');
  private readonly root = byId<HTMLOListElement>('clusters');
  private readonly notebooks = new NotebookChoices();
  private visible = false;

  private shown: { notebook: string; cell: number } | null = null;

  constructor(
    private readonly openStudent: (student: string) => void,
    private readonly compose?: Compose
  ) {
    byId('code-form').addEventListener('submit', event => {
      event.preventDefault();
      void this.load();
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
  }

  private async load(): Promise<void> {
    const notebook = this.notebook.value;
    const cell = Number.parseInt(this.cell.value, 10);
    if (!notebook || Number.isNaN(cell)) {
      setText(byId('code-summary'), 'Choose a notebook and a cell number.');
      return;
    }
    const body = await getJson<ClustersOut>('/api/v1/clusters', {
      notebook,
      cell
    });
    setText(
      byId('code-summary'),
      body.attempts
        ? `${body.attempts} students · ${body.clusters.length} different attempts at cell ${cell}`
        : `Nobody has run cell ${cell} of ${notebook} yet.`
    );
    this.shown = { notebook, cell };
    this.root.replaceChildren(...body.clusters.map(c => this.item(c)));
  }

  private item(cluster: AttemptCluster): HTMLElement {
    const ok = cluster.outcome === 'ok';
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
            text: ok ? '✓ ok' : `✕ ${cluster.outcome}`
          }),
          el('span', {
            class: 'cluster-detail muted',
            text: `${outcomes}${cluster.method === 'tokens' ? ' · does not parse' : ''}`
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
    button.addEventListener('click', () =>
      compose(
        {
          kind: 'cluster',
          notebook: shown.notebook,
          cellIndex: shown.cell,
          fingerprint: cluster.fingerprint
        },
        `the ${count} of this attempt at cell ${shown.cell} (${cluster.outcome})`
      )
    );
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
        text: ` ${member.outcome} · ${timeOf(member.eventTime)}`
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
