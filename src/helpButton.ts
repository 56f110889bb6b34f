/**
 * The "Ask for help" toolbar button of every notebook. Pressing it sends
 * `help`; pressing it again sends `help_stop`. Its state is shown on the
 * button itself (icon, label, colour, a pressed-in look, aria-pressed) and
 * kept across reloads, so the student always sees whether the instructor is
 * being called.
 */

import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { IKeyValueStorage } from './queue';

export type HelpToggled = (panel: NotebookPanel, requested: boolean) => void;

const STORAGE_PREFIX = 'cell-monitor:help:';
const ACTIVE_CLASS = 'cm-HelpButton-active';

/** A raised hand: the classroom's sign for "I need help". */
export const helpIcon = new LabIcon({
  name: 'cell-monitor:help',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M21 7.5a1.5 1.5 0 0 0-3 0V12h-1V4.5a1.5 1.5 0 0 0-3 0V11h-1V3' +
    'a1.5 1.5 0 0 0-3 0v8H9V5.5a1.5 1.5 0 0 0-3 0v9.3l-2.1-2.2a1.5 1.5 0 0 0-2.2 2l4.6 5.3' +
    'A6 6 0 0 0 10.9 22H15a6 6 0 0 0 6-6z"/></svg>'
});

export class HelpButton extends Widget {
  constructor(onClick: () => void) {
    super({ node: document.createElement('button') });
    this.addClass('cm-HelpButton');
    this.addClass('jp-ToolbarButtonComponent');
    this.node.setAttribute('type', 'button');
    this.node.addEventListener('click', onClick);
    this.setRequested(false);
  }

  setRequested(requested: boolean): void {
    this.toggleClass(ACTIVE_CLASS, requested);
    this.node.setAttribute('aria-pressed', String(requested));
    const label = document.createElement('span');
    label.className = 'cm-HelpButton-label';
    label.textContent = requested ? 'Help requested' : 'Ask for help';
    this.node.replaceChildren(
      helpIcon.element({ tag: 'span', className: 'cm-HelpButton-icon' }),
      label
    );
    this.node.title = requested
      ? 'Your instructor has been asked for help. Click when you no longer need it.'
      : 'Ask your instructor for help with this notebook.';
  }
}

export class HelpButtonExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(
    onToggle: HelpToggled,
    isEnabled: () => boolean,
    storage: IKeyValueStorage | null
  ) {
    this._onToggle = onToggle;
    this._isEnabled = isEnabled;
    this._storage = storage;
  }

  createNew(panel: NotebookPanel): IDisposable {
    const key = () => STORAGE_PREFIX + panel.context.path;
    let requested = this._read(key());
    const button = new HelpButton(() => {
      if (!this._isEnabled()) {
        return;
      }
      requested = !requested;
      button.setRequested(requested);
      this._write(key(), requested);
      this._onToggle(panel, requested);
    });
    button.setRequested(requested);
    panel.toolbar.insertItem(10, 'cellMonitorHelp', button);
    return button;
  }

  private _read(key: string): boolean {
    try {
      return this._storage?.getItem(key) === '1';
    } catch {
      return false;
    }
  }

  private _write(key: string, requested: boolean): void {
    try {
      if (requested) {
        this._storage?.setItem(key, '1');
      } else {
        this._storage?.removeItem(key);
      }
    } catch {
      /* the state then lasts until the page is reloaded */
    }
  }

  private readonly _onToggle: HelpToggled;
  private readonly _isEnabled: () => boolean;
  private readonly _storage: IKeyValueStorage | null;
}
