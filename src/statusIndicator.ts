/**
 * A status-bar item that stays empty while all is well and says so, briefly,
 * when events cannot get through: the class server has been unreachable for
 * a while (events are kept on disk meanwhile), the Jupyter server does not
 * answer, or no class server is configured.
 */

import { Widget } from '@lumino/widgets';

import { IIndicatorInput, indicatorMessage } from './statusMessage';

export class StatusIndicator extends Widget {
  constructor() {
    super();
    this.addClass('cm-StatusIndicator');
    this.node.setAttribute('role', 'status');
  }

  display(input: IIndicatorInput): void {
    const message = indicatorMessage(input);
    this.node.textContent = message ? `⚠ ${message}` : '';
    this.node.title = input.server?.lastError ?? input.batcher.lastError ?? '';
    this.toggleClass('cm-StatusIndicator-visible', message !== '');
  }
}
