/**
 * The "Ask for help" toolbar button of every notebook.
 *
 * Where the class server can say who the student is (JupyterHub, or a
 * per-student credential), the request lives on the class server and the
 * button shows its state from the inbox, the same in every browser and after
 * reloads: "Help requested — 3rd in line", "Ada (TA) is on the way",
 * "Closed by the instructor". Pressing it asks (a `help` event with a new
 * helpRequestId) or withdraws (`help_stop`); both travel the durable event
 * path. Without that (a course token: the server cannot tell students apart),
 * the button toggles `help`/`help_stop` as before and remembers its state in
 * this browser only.
 */

import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { ASK, HelpRequestState, IHelpDisplay } from './helpState';

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
    this.setDisplay(ASK);
  }

  setDisplay(display: IHelpDisplay): void {
    this.toggleClass(ACTIVE_CLASS, display.active);
    this.node.setAttribute('aria-pressed', String(display.active));
    const label = document.createElement('span');
    label.className = 'cm-HelpButton-label';
    label.textContent = display.label;
    // Read out when it changes ("Ada (TA) is on the way").
    label.setAttribute('aria-live', 'polite');
    this.node.replaceChildren(
      helpIcon.element({ tag: 'span', className: 'cm-HelpButton-icon' }),
      label
    );
    this.node.title = display.title;
  }
}

export class HelpButtonExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(state: HelpRequestState, isEnabled: () => boolean) {
    this._state = state;
    this._isEnabled = isEnabled;
  }

  createNew(panel: NotebookPanel): IDisposable {
    const path = () => panel.context.path;
    const button = new HelpButton(() => {
      if (this._isEnabled()) {
        this._state.toggle(path());
      }
    });
    const render = () => button.setDisplay(this._state.display(path()));
    const unsubscribe = this._state.subscribe(render);
    // Pending actions expire and "Closed by the instructor" fades: re-render now and then.
    const timer = setInterval(render, 15000);
    button.disposed.connect(() => {
      unsubscribe();
      clearInterval(timer);
    });
    render();
    panel.toolbar.insertItem(10, 'cellMonitorHelp', button);
    return button;
  }

  private readonly _state: HelpRequestState;
  private readonly _isEnabled: () => boolean;
}
