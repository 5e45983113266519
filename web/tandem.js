// Tandem web pages: what the rep console (index.html) and the invite
// landing page (invite.html) share — the tandem-signal API
// (signaling/API.md), the session WebSocket, the screen over WHEP, the
// participant list, chat and the messages people read when something
// fails. Plain script, no build step; loads nothing from elsewhere.
'use strict';

(function () {
  const API = '/api/v1';

  // What people read for each error code of the API (and of the socket).
  const ERROR_TEXT = {
    bad_request: 'The service did not understand the request.',
    unknown_profile: 'There is no security profile of that name.',
    bad_credentials: 'Wrong name or password, or your login has expired. Please log in again.',
    not_present: 'You are no longer in this session.',
    not_owner: 'Only the owner of the session may do that.',
    not_a_rep: 'Only a support rep may do that.',
    invite_not_allowed: 'Your account may not invite experts.',
    profile_not_allowed: 'Your account may not give that profile.',
    forbidden: 'You may not do that.',
    not_found: 'Not found: the session or participant is gone.',
    code_invalid: 'That join code is not valid (it may be used or expired).',
    invite_unknown: 'This invite link is not valid. Check that you copied the whole link, or ask for a new one.',
    invite_used: 'This invite link has already been used. Each link works once: ask the support rep for a new one.',
    invite_expired: 'This invite link has expired. Ask the support rep for a new one.',
    invite_revoked: 'This invite link was withdrawn by the support rep.',
    session_ended: 'This support session has ended.',
    too_large: 'That message is too large.',
    unavailable: 'The service cannot do that right now (no relay available). Try again shortly.',
    internal: 'The service failed. Try again; if it persists, tell your administrator.',
    network: 'Cannot reach the Tandem service. Check your connection and try again.',
    customer_offline: 'The customer is not connected: input was not delivered.',
    not_allowed: 'That is not allowed.',
  };

  const DENIED_TEXT = {
    kind_not_allowed: 'your profile does not allow this kind of input',
    key_chord_blocked: 'this key combination is blocked',
    rate_limited: 'too much input too fast; some events were dropped',
    customer_has_control: 'the customer has taken control back; input is paused until they hand it back',
  };

  class TandemError extends Error {
    constructor(code, status, detail) {
      super(ERROR_TEXT[code] || `${detail || code} (${status})`);
      this.code = code;
      this.status = status;
      this.detail = detail || '';
    }
  }

  // One API call. auth: {bearer} (rep login) or {secret} (participant).
  async function api(method, path, { body, bearer, secret } = {}) {
    // The service wants a Content-Length on every request with a body:
    // POST and PUT always carry a JSON object, if only {}.
    if (body === undefined && (method === 'POST' || method === 'PUT')) body = {};
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (secret) headers['X-Tandem-Secret'] = secret;
    let res;
    try {
      res = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      throw new TandemError('network', 0, e.message);
    }
    let data = null;
    const text = await res.text();
    try { data = text ? JSON.parse(text) : {}; } catch { data = null; }
    if (!res.ok) {
      const code = data && typeof data.error === 'string' ? data.error : (res.status >= 500 ? 'internal' : 'bad_request');
      throw new TandemError(code, res.status, data && data.detail);
    }
    if (data === null) throw new TandemError('internal', res.status, 'the service sent something that is not JSON');
    return data;
  }

  function errorText(e) {
    if (e instanceof TandemError) return e.message;
    return e && e.message ? e.message : String(e);
  }

  // The session WebSocket: authenticates with the participant secret,
  // reconnects after a loss (with a growing pause) until closed on purpose
  // or told the session is over for us (ended, removed, bad credentials).
  //   onMessage(msg), onStatus('connecting'|'online'|'lost'|'closed', why)
  class Socket {
    constructor({ secret, onMessage, onStatus }) {
      this.secret = secret;
      this.onMessage = onMessage;
      this.onStatus = onStatus || (() => {});
      this.ws = null;
      this.closing = false;
      this.finished = false;
      this.retryMs = 500;
      this.timer = null;
      this.pingTimer = null;
      this.welcomed = false;
    }

    url() {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      return `${scheme}//${location.host}${API}/ws`;
    }

    open() {
      if (this.closing || this.finished) return;
      this.onStatus('connecting');
      let ws;
      try {
        ws = new WebSocket(this.url(), 'tandem-v1');
      } catch (e) {
        this.lost(e.message);
        return;
      }
      this.ws = ws;
      this.welcomed = false;
      ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'auth', secret: this.secret })));
      ws.addEventListener('message', (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch { return; }
        if (!msg || typeof msg !== 'object') return;
        if (msg.type === 'welcome') {
          this.welcomed = true;
          this.retryMs = 500;
          this.onStatus('online');
          clearInterval(this.pingTimer);
          this.pingTimer = setInterval(() => this.send({ type: 'ping' }), 20000);
        }
        if (msg.type === 'removed' || (msg.type === 'session' && msg.event === 'ended')) this.finished = true;
        // A refused auth (bad_credentials, not_present, session_ended) is final.
        if (msg.type === 'error' && !this.welcomed && msg.error !== 'internal') this.finished = true;
        this.onMessage(msg);
      });
      ws.addEventListener('close', (ev) => {
        if (this.ws !== ws) return;
        clearInterval(this.pingTimer);
        this.ws = null;
        // 4001: authentication refused; 4003: removed; 1000 after the end.
        if (ev.code === 4001 || ev.code === 4003) this.finished = true;
        if (this.closing || this.finished) {
          this.onStatus('closed', ev.code);
          return;
        }
        this.lost(`closed (${ev.code})`);
      });
    }

    lost(why) {
      this.onStatus('lost', why);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 8000);
    }

    // false when not connected (the message is not queued: input typed
    // into a dead connection must not arrive late).
    send(obj) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.welcomed) return false;
      this.ws.send(JSON.stringify(obj));
      return true;
    }

    close() {
      this.closing = true;
      clearTimeout(this.timer);
      clearInterval(this.pingTimer);
      if (this.ws) this.ws.close(1000);
      this.ws = null;
    }
  }

  // The customer's screen: WHEP with a fresh relay token each time
  // (getMedia() asks signaling: tokens live minutes), and a new attempt
  // after a lost media connection while the page still wants it.
  // start(media) subscribes with media the service just sent (the media
  // object of a {"type":"media","event":"moved"} message) instead of
  // asking for it.
  //   onState(text, isError)
  class Screen {
    constructor({ video, getMedia, onState }) {
      this.video = video;
      this.getMedia = getMedia;
      this.onState = onState || (() => {});
      this.viewer = null;
      this.wanted = false;
      this.retryMs = 1000;
      this.timer = null;
      // The picture's first frame (and each change of size) after connecting.
      video.addEventListener('resize', () => {
        if (this.viewer && this.video.videoWidth) this.onState('Live', false);
      });
    }

    async start(given) {
      this.wanted = true;
      clearTimeout(this.timer);
      if (this.viewer) await this.viewer.stop().catch(() => {});
      this.viewer = null;
      this.onState('Connecting to the screen…', false);
      let media = given && given.url && given.token ? given : null;
      if (!media) {
        try {
          media = await this.getMedia();
        } catch (e) {
          this.onState(`Cannot get a media token: ${errorText(e)}`, true);
          this.retry();
          return;
        }
      }
      if (!this.wanted) return;
      if (!media || !media.url || !media.token) {
        // The service runs without a relay (its "media" is null).
        this.onState('No relay is available to show the screen; trying again…', true);
        this.retry();
        return;
      }
      const iceServers = media.turn && media.turn.urls
        ? [{ urls: media.turn.urls, username: media.turn.username, credential: media.turn.credential }]
        : [];
      const viewer = new window.TandemWhep({
        url: media.url,
        token: media.token,
        video: this.video,
        iceServers,
        onState: (s) => {
          if (this.viewer !== viewer) return;
          if (s === 'connected') {
            this.retryMs = 1000;
            this.onState(this.video.videoWidth ? 'Live' : 'Connected; waiting for the customer\'s screen…', false);
          } else if (s === 'failed' || s === 'disconnected') {
            this.onState('Lost the connection to the screen; reconnecting…', true);
            if (s === 'failed') this.retry();
          }
        },
      });
      this.viewer = viewer;
      try {
        await viewer.start();
      } catch (e) {
        if (this.viewer !== viewer) return;
        this.onState(`Cannot show the screen: ${errorText(e)}`, true);
        this.retry();
      }
    }

    retry() {
      if (!this.wanted) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => { if (this.wanted) this.start(); }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 15000);
    }

    async stats() {
      return this.viewer ? this.viewer.stats() : { connectionState: 'new', framesDecoded: 0 };
    }

    async stop() {
      this.wanted = false;
      clearTimeout(this.timer);
      const v = this.viewer;
      this.viewer = null;
      if (v) await v.stop().catch(() => {});
      this.video.srcObject = null;
    }
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  const KIND_TEXT = { rep: 'rep', customer: 'customer', invited: 'invited expert' };

  // The participant list. opts.extra(p) returns nodes to add to a row (the
  // owner's controls on the console).
  function renderPeople(ul, state, meId, opts = {}) {
    ul.replaceChildren();
    const people = (state && state.participants) || [];
    for (const p of people) {
      const li = el('li', { 'data-pid': p.id, 'data-kind': p.kind, 'data-profile': p.profile || '' },
        el('span', { class: 'name', text: p.name || p.id }),
        p.id === meId ? el('span', { class: 'tag', text: 'you' }) : null,
        el('span', { class: 'tag kind', text: KIND_TEXT[p.kind] || p.kind }),
        p.owner ? el('span', { class: 'tag', text: 'owner' }) : null,
        p.kind !== 'customer' ? el('span', { class: 'tag profile', text: p.profile }) : null,
        p.online === false ? el('span', { class: 'tag', text: 'offline' }) : null);
      if (opts.extra) for (const n of opts.extra(p) || []) li.append(n);
      ul.append(li);
    }
    if (people.length === 0) ul.append(el('li', { class: 'notice', text: 'Nobody is in the session.' }));
  }

  // Chat: a log, a form; send(text) -> bool (false: not connected).
  class Chat {
    constructor({ log, form, input, send, onError }) {
      this.log = log;
      this.input = input;
      this.send = send;
      this.onError = onError || (() => {});
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const text = this.input.value.trim();
        if (!text) return;
        if (new TextEncoder().encode(text).length > 4000) {
          this.onError('That message is too long (at most 4000 bytes).');
          return;
        }
        if (!this.send({ type: 'chat', text })) {
          this.onError('Not connected: the message was not sent.');
          return;
        }
        this.input.value = '';
      });
    }

    add(msg, meId) {
      const time = msg.ts_ms ? new Date(msg.ts_ms).toLocaleTimeString() : '';
      const who = msg.from === meId ? `${msg.name || 'you'} (you)` : (msg.name || msg.from || '?');
      this.log.append(el('div', { class: 'msg', title: time, 'data-from': msg.from || '' },
        el('span', { class: 'from', text: `${who}:` }), el('span', { class: 'text', text: msg.text })));
      this.log.scrollTop = this.log.scrollHeight;
    }

    system(text) {
      this.log.append(el('div', { class: 'msg system', text }));
      this.log.scrollTop = this.log.scrollHeight;
    }
  }

  // A one-line description of a session event, for the chat log.
  function describeEvent(msg, state) {
    const p = ((state && state.participants) || []).find((x) => x.id === msg.subject);
    const name = p ? (p.name || p.id) : 'Someone';
    switch (msg.event) {
      case 'joined': return `${name} joined${p && p.kind !== 'customer' ? ` (${p.profile})` : ''}.`;
      case 'left': return 'A participant left.';
      case 'removed': return 'A participant was removed.';
      case 'profile_changed': return `${name} now has the profile ${p ? p.profile : '?'}.`;
      case 'owner_changed': return `${name} now owns the session.`;
      case 'ended': return 'The session has ended.';
      case 'control_taken_back': return 'The customer took control back: remote input is paused.';
      case 'control_returned': return 'The customer handed control back.';
      default: return null;
    }
  }

  function deniedText(msg) {
    if (msg.error === 'input_denied') {
      return `Input refused (${msg.event || 'event'}): ${DENIED_TEXT[msg.reason] || msg.reason || 'not allowed'}.`;
    }
    return ERROR_TEXT[msg.error] || msg.detail || msg.error;
  }

  // Copies text; true when it went to the clipboard (the field is selected
  // either way, so the person can copy it by hand).
  async function copyText(field) {
    field.focus();
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      return true;
    } catch {
      try { return document.execCommand('copy'); } catch { return false; }
    }
  }

  function show(node, text) {
    node.textContent = text || '';
    node.hidden = !text;
  }

  window.Tandem = {
    api, errorText, TandemError, Socket, Screen, Chat, renderPeople, describeEvent,
    deniedText, copyText, el, show, ERROR_TEXT,
  };
})();
