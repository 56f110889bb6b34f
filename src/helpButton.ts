/**
 * The "Ask for help" toolbar button of every notebook. Pressing it sends
 * `help`; pressing it again sends `help_stop`. Its state is shown on the
 * button itself (label, colour, aria-pressed) and kept across reloads, so the
 * student always sees whether the instructor is being called.
 */

import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { IKeyValueStorage } from './queue';

export type HelpToggled = (panel: NotebookPanel, requested: boolean) => void;

const STORAGE_PREFIX = 'cell-monitor:help:';
const ACTIVE_CLASS = 'cm-HelpButton-active';

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
    this.node.textContent = requested ? 'Help requested' : 'Ask for help';
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
