// Tandem web pages: pointer and keyboard events over the video element,
// turned into the input messages of signaling (signaling/tdm_sig_input.h):
//
//   {"type":"pointer_move","x":0.5,"y":0.25}          x, y in [0,1] of the picture
//   {"type":"pointer_button","button":0,"down":true,"x":..,"y":..}
//   {"type":"pointer_scroll","dx":0,"dy":-3}
//   {"type":"key_down","key":"a","mods":["ctrl"]}     DOM KeyboardEvent.key
//   {"type":"key_up","key":"a","mods":[]}
//   {"type":"clipboard_to_customer","text":"..."}
//   {"type":"clipboard_from_customer"}
//
// Only the kinds in `allowed` are sent (the server checks again: it is the
// one that decides). Coordinates are those of the picture inside the
// element (object-fit: contain leaves bars), so a click on a bar sends
// nothing.
//
//   const cap = new TandemInput({ element: video, send: (msg) => ..., allowed: Set });
//   cap.setAllowed(new Set(['pointer_move']));
//   cap.detach();
'use strict';

(function () {
  // The rights of the built-in profiles (signaling/tdm_sig_profile.h), for
  // when the service does not list a profile's event kinds itself.
  const BUILTIN_KINDS = {
    view_only: [],
    pointer: ['pointer_move'],
    control: ['pointer_move', 'pointer_button', 'pointer_scroll', 'key_down', 'key_up'],
    full: ['pointer_move', 'pointer_button', 'pointer_scroll', 'key_down', 'key_up',
      'clipboard_to_customer', 'clipboard_from_customer'],
  };
  const MOVE_INTERVAL_MS = 33; // at most ~30 moves a second: the profile's rate limit stays clear
  const KEY_MAX = 32;

  function mods(ev) {
    const m = [];
    if (ev.ctrlKey) m.push('ctrl');
    if (ev.altKey) m.push('alt');
    if (ev.shiftKey) m.push('shift');
    if (ev.metaKey) m.push('meta');
    return m;
  }

  const clamp01 = (v) => Math.min(1, Math.max(0, v));
  // Three decimals are finer than any screen's pixels and keep messages short.
  const round3 = (v) => Math.round(v * 1000) / 1000;

  class TandemInput {
    constructor({ element, send, allowed }) {
      this.el = element;
      this.send = send;
      this.allowed = allowed || new Set();
      this.lastMove = 0;
      this.pendingMove = null;
      this.moveTimer = null;
      this.handlers = {
        pointermove: (ev) => this.onMove(ev),
        pointerdown: (ev) => this.onButton(ev, true),
        pointerup: (ev) => this.onButton(ev, false),
        wheel: (ev) => this.onWheel(ev),
        keydown: (ev) => this.onKey(ev, 'key_down'),
        keyup: (ev) => this.onKey(ev, 'key_up'),
        contextmenu: (ev) => { if (this.allowed.has('pointer_button')) ev.preventDefault(); },
      };
      for (const [name, fn] of Object.entries(this.handlers)) {
        this.el.addEventListener(name, fn, name === 'wheel' ? { passive: false } : undefined);
      }
      if (!this.el.hasAttribute('tabindex')) this.el.tabIndex = 0;
    }

    setAllowed(kinds) {
      this.allowed = kinds;
    }

    detach() {
      for (const [name, fn] of Object.entries(this.handlers)) this.el.removeEventListener(name, fn);
      clearTimeout(this.moveTimer);
    }

    // The event's position in the picture, in [0,1]; null over the bars.
    position(ev) {
      const r = this.el.getBoundingClientRect();
      const vw = this.el.videoWidth || r.width;
      const vh = this.el.videoHeight || r.height;
      if (!r.width || !r.height || !vw || !vh) return null;
      const scale = Math.min(r.width / vw, r.height / vh);
      const w = vw * scale;
      const h = vh * scale;
      const x = (ev.clientX - r.left - (r.width - w) / 2) / w;
      const y = (ev.clientY - r.top - (r.height - h) / 2) / h;
      if (x < 0 || x > 1 || y < 0 || y > 1) return null;
      return { x: round3(clamp01(x)), y: round3(clamp01(y)) };
    }

    onMove(ev) {
      if (!this.allowed.has('pointer_move')) return;
      const p = this.position(ev);
      if (!p) return;
      // The latest position wins; moves are spaced so a drag does not run
      // into the rate limit.
      this.pendingMove = p;
      const wait = this.lastMove + MOVE_INTERVAL_MS - performance.now();
      if (wait <= 0) this.flushMove();
      else if (!this.moveTimer) this.moveTimer = setTimeout(() => this.flushMove(), wait);
    }

    flushMove() {
      this.moveTimer = null;
      if (!this.pendingMove) return;
      this.lastMove = performance.now();
      this.send({ type: 'pointer_move', x: this.pendingMove.x, y: this.pendingMove.y });
      this.pendingMove = null;
    }

    onButton(ev, down) {
      if (down) this.el.focus({ preventScroll: true });
      if (!this.allowed.has('pointer_button')) return;
      const p = this.position(ev);
      if (!p || ev.button < 0 || ev.button > 4) return;
      ev.preventDefault();
      this.flushMove();
      this.send({ type: 'pointer_button', button: ev.button, down, x: p.x, y: p.y });
    }

    onWheel(ev) {
      if (!this.allowed.has('pointer_scroll')) return;
      ev.preventDefault();
      // Lines, as a wheel's notches: pixels divided by a line's height.
      const unit = ev.deltaMode === 1 ? 1 : ev.deltaMode === 2 ? 20 : 1 / 40;
      const dx = Math.max(-1000, Math.min(1000, Math.round(ev.deltaX * unit)));
      const dy = Math.max(-1000, Math.min(1000, Math.round(ev.deltaY * unit)));
      if (dx || dy) this.send({ type: 'pointer_scroll', dx, dy });
    }

    onKey(ev, type) {
      if (!this.allowed.has(type)) return;
      const key = ev.key;
      if (!key || key === 'Unidentified' || new TextEncoder().encode(key).length > KEY_MAX) return;
      ev.preventDefault();
      this.send({ type, key, mods: mods(ev) });
    }
  }

  // The event kinds a profile allows: the service's list when it gives
  // one, the built-in table otherwise (an unknown profile allows nothing).
  TandemInput.kindsOf = function kindsOf(profile, listed) {
    if (Array.isArray(listed)) return new Set(listed);
    return new Set(BUILTIN_KINDS[profile] || []);
  };

  window.TandemInput = TandemInput;
})();
