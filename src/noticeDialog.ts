/**
 * The data notice as a JupyterLab dialog: shown once per student (until
 * `noticeAcknowledged` is set), and again on demand from the command palette.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { INoticeContent } from './notice';

function paragraph(text: string): HTMLElement {
  const node = document.createElement('p');
  node.textContent = text;
  return node;
}

/** The dialog body (DOM built from text: nothing in it is interpreted as HTML). */
export function noticeBody(content: INoticeContent): Widget {
  const node = document.createElement('div');
  node.className = 'cm-Notice';
  node.appendChild(
    paragraph('While you work in notebooks, this JupyterLab records:')
  );
  const list = document.createElement('ul');
  for (const item of content.collected) {
    const entry = document.createElement('li');
    entry.textContent = item;
    list.appendChild(entry);
  }
  node.appendChild(list);
  node.appendChild(paragraph(content.identity));
  node.appendChild(paragraph(content.destination));
  node.appendChild(paragraph(content.rights));
  if (content.requireConsent) {
    const consent = paragraph(
      'Nothing is recorded or sent unless you accept. If you decline, you ' +
        'will be asked again the next time you open JupyterLab.'
    );
    consent.className = 'cm-Notice-consent';
    node.appendChild(consent);
  }
  return new Widget({ node });
}

/** Show the notice; resolves true when the student accepted (or acknowledged) it. */
export async function showNotice(content: INoticeContent): Promise<boolean> {
  const buttons = content.requireConsent
    ? [
        Dialog.cancelButton({ label: 'Decline' }),
        Dialog.okButton({ label: 'Accept' })
      ]
    : [Dialog.okButton({ label: 'OK, understood' })];
  const result = await showDialog({
    title: content.title,
    body: noticeBody(content),
    buttons,
    hasClose: false
  });
  return result.button.accept;
}
