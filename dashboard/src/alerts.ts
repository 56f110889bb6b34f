// Telling the instructor a help request arrived: a visible notice, a message
// for screen readers (aria-live) and, when switched on, a short chime.

import { setText } from './dom.js';
import { IAlert, publicName } from './state.js';

const SOUND_KEY = 'cell-monitor.dashboard.sound';

export class Alerts {
  private audio: AudioContext | null = null;
  private hideTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly noticeText: HTMLElement;
  /** The student the notice is about. */
  private about: string | null = null;
  sound: boolean;

  constructor(
    private readonly notice: HTMLElement,
    private readonly live: HTMLElement,
    private readonly toggle: HTMLInputElement
  ) {
    this.noticeText = notice.querySelector<HTMLElement>('.notice-text')!;
    this.sound = readSound();
    toggle.checked = this.sound;
    toggle.addEventListener('change', () => this.setSound(toggle.checked));
  }

  setSound(on: boolean): void {
    this.sound = on;
    this.toggle.checked = on;
    try {
      localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
    } catch {
      // storage disabled: the choice lasts for this page only
    }
    if (on) {
      // Created on a user gesture, which browsers require to play sound.
      this.context()?.resume();
    }
  }

  /** A help request was raised (by a student, not cleared). */
  helpRaised(alert: IAlert): void {
    const who = publicName(alert);
    const team = alert.teamName ? ` (${alert.teamName})` : '';
    const text = `Help requested by ${who}${team}`;
    this.about = alert.student;
    setText(this.live, text);
    setText(this.noticeText, text);
    this.notice.hidden = false;
    this.notice.classList.remove('flash');
    void this.notice.offsetWidth; // restart the animation
    this.notice.classList.add('flash');
    clearTimeout(this.hideTimer);
    this.hideTimer = setTimeout(() => {
      this.notice.hidden = true;
    }, 8000);
    if (this.sound) {
      this.chime();
    }
  }

  /** Erased students: a notice about one of them goes at once. */
  forget(students: ReadonlySet<string>): void {
    if (this.about !== null && students.has(this.about)) {
      clearTimeout(this.hideTimer);
      this.notice.hidden = true;
      this.about = null;
    }
  }

  private context(): AudioContext | null {
    if (!this.audio && typeof AudioContext !== 'undefined') {
      this.audio = new AudioContext();
    }
    return this.audio;
  }

  /** Two short rising tones, generated (no audio file). */
  private chime(): void {
    const audio = this.context();
    if (!audio) {
      return;
    }
    const start = audio.currentTime;
    [660, 880].forEach((frequency, i) => {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = 'sine';
      oscillator.frequency.value = frequency;
      const at = start + i * 0.18;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.17);
    });
  }
}

function readSound(): boolean {
  try {
    return localStorage.getItem(SOUND_KEY) === 'on';
  } catch {
    return false;
  }
}
