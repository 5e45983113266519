// Tandem rep console (index.html): log in, open a session and read the join
// code to the customer, watch the customer's screen over WHEP, send pointer
// and keyboard input and chat over the session WebSocket, invite an expert
// with a profile, and, as the owner, change a participant's profile, remove
// one, end the session; shows when the customer has taken control back
// (remote input paused). API: signaling/API.md.
//
// The login token and the session credential are kept in sessionStorage
// (this tab only), so a reload comes back to the session.
//
// window.tandemPage is for tests: stats() of the screen, state(), me().
'use strict';

(function () {
  const { api, errorText, Socket, Screen, Chat, renderPeople, describeEvent, deniedText, el, show } = window.Tandem;
  const $ = (id) => document.getElementById(id);
  const REP_KEY = 'tandem.rep';
  const SESSION_KEY = 'tandem.console.session';

  let rep = null;       // {token, user}
  let profiles = [];    // [{name, events, blocked_chords, rate}]
  let session = null;   // {session_id, participant_id, secret, profile, join_code, code_expires_s}
  let state = null;     // the session state of the last welcome/event
  let socket = null;
  let screen = null;
  let input = null;
  let chat = null;
  const invites = [];   // created here: {invite_id, profile, expires_s, link, revoked}

  const clock = (s) => new Date(s * 1000).toLocaleTimeString();

  function load(key) {
    try { return JSON.parse(sessionStorage.getItem(key)); } catch { return null; }
  }
  function save(key, value) {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  }

  function view(name) {
    for (const v of ['login', 'lobby', 'session', 'over']) $(`${v}-view`).hidden = v !== name;
    const loggedIn = !!rep;
    $('who').hidden = !loggedIn;
    $('who').textContent = loggedIn ? `${rep.user.name} (${rep.user.role})` : '';
    $('logout').hidden = !loggedIn || name === 'session';
  }

  function banner(text) { show($('banner'), text); }

  // A button that needs a second click within a few seconds to act.
  function confirmClick(btn, confirmLabel, action) {
    const label = btn.textContent;
    let armed = null;
    btn.addEventListener('click', async () => {
      if (!armed) {
        btn.textContent = confirmLabel;
        armed = setTimeout(() => { btn.textContent = label; armed = null; }, 4000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      btn.textContent = label;
      await action();
    });
  }

  // ---------------------------------------------------------------- login

  async function onLogin(ev) {
    ev.preventDefault();
    show($('login-error'), '');
    $('login-submit').disabled = true;
    try {
      const r = await api('POST', '/login', {
        body: { name: $('login-name').value.trim(), password: $('login-password').value },
      });
      rep = { token: r.token, user: r.user, expires_s: r.expires_s };
      save(REP_KEY, rep);
      $('login-password').value = '';
      await enterLobby();
    } catch (e) {
      show($('login-error'), e.code === 'bad_credentials' ? 'Wrong name or password.' : errorText(e));
    } finally {
      $('login-submit').disabled = false;
    }
  }

  async function onLogout() {
    try { await api('POST', '/logout', { bearer: rep.token }); } catch { /* gone already */ }
    rep = null;
    save(REP_KEY, null);
    view('login');
  }

  // A login that stopped working (expired, logged out elsewhere).
  function loginLost() {
    rep = null;
    save(REP_KEY, null);
    view('login');
    show($('login-error'), 'Your login has expired. Please log in again.');
  }

  async function loadProfiles() {
    try {
      profiles = (await api('GET', '/profiles', { bearer: rep.token })).profiles || [];
    } catch (e) {
      if (e.code === 'bad_credentials') throw e;
      profiles = []; // the built-in table in input.js still knows the four built-ins
    }
  }

  async function enterLobby() {
    show($('lobby-error'), '');
    try {
      await loadProfiles();
    } catch (e) {
      loginLost();
      return;
    }
    view('lobby');
  }

  // ---------------------------------------------------------------- session

  async function onOpen() {
    show($('lobby-error'), '');
    $('open-session').disabled = true;
    try {
      const r = await api('POST', '/sessions', { bearer: rep.token, body: {} });
      await enterSession({
        session_id: r.session_id, participant_id: r.participant_id, secret: r.secret,
        profile: r.profile, join_code: r.join_code, code_expires_s: r.code_expires_s,
      });
    } catch (e) {
      if (e.code === 'bad_credentials') loginLost();
      else show($('lobby-error'), `Cannot open a session: ${errorText(e)}`);
    } finally {
      $('open-session').disabled = false;
    }
  }

  async function onRepJoin(ev) {
    ev.preventDefault();
    const sid = $('rep-join-id').value.trim();
    if (!sid) return;
    show($('lobby-error'), '');
    try {
      const r = await api('POST', `/sessions/${encodeURIComponent(sid)}/reps`, { bearer: rep.token, body: {} });
      await enterSession({
        session_id: r.session_id, participant_id: r.participant_id, secret: r.secret, profile: r.profile,
      });
    } catch (e) {
      if (e.code === 'bad_credentials') loginLost();
      else show($('lobby-error'), `Cannot join that session: ${errorText(e)}`);
    }
  }

  function sessionPath(rest) {
    return `/sessions/${encodeURIComponent(session.session_id)}${rest || ''}`;
  }

  const secretAuth = (extra) => ({ secret: session.secret, ...(extra || {}) });

  async function enterSession(s) {
    session = s;
    save(SESSION_KEY, session);
    invites.length = 0;
    $('invites').replaceChildren();
    $('chat-log').replaceChildren();
    $('invite-result').hidden = true;
    show($('invite-error'), '');
    show($('input-error'), '');
    show($('people-error'), '');
    $('session-id').textContent = s.session_id;
    showJoinCode();
    setupInvitePanel();
    view('session');
    setMyProfile(s.profile);

    socket = new Socket({ secret: s.secret, onMessage, onStatus: onSocketStatus });
    socket.open();
    screen = new Screen({
      video: $('screen'),
      getMedia: async () => (await api('POST', sessionPath('/media'), secretAuth())).media,
      onState: (text, isError) => {
        $('screen-state').textContent = text;
        $('screen-state').classList.toggle('bad', !!isError);
      },
    });
    screen.start();
  }

  function showJoinCode() {
    if (session.join_code) {
      $('join-code').textContent = session.join_code;
      const when = session.code_expires_s ? clock(session.code_expires_s) : '';
      $('join-code-note').textContent = when ? `Works once, until ${when}.` : 'Works once.';
    } else {
      $('join-code').textContent = '—';
      $('join-code-note').textContent = isOwner() ? 'Press "New code" to make one for the customer.'
        : 'Only the owner can make a new code.';
    }
  }

  // Leaves the session view (after leave, end, removal or a lost credential).
  async function closeSession(title, text) {
    if (socket) socket.close();
    socket = null;
    if (input) input.detach();
    input = null;
    if (screen) await screen.stop();
    screen = null;
    session = null;
    state = null;
    save(SESSION_KEY, null);
    banner('');
    if (title) {
      $('over-title').textContent = title;
      $('over-text').textContent = text || '';
      view('over');
    } else {
      view(rep ? 'lobby' : 'login');
    }
  }

  async function onLeave() {
    try {
      await api('POST', sessionPath('/leave'), secretAuth({ body: {} }));
    } catch (e) {
      if (!['not_present', 'session_ended', 'bad_credentials'].includes(e.code)) {
        banner(`Cannot leave: ${errorText(e)}`);
        return;
      }
    }
    await closeSession();
  }

  async function onEnd() {
    try {
      await api('POST', sessionPath('/end'), secretAuth({ body: {} }));
      await closeSession('Session ended', 'You ended the session. Every invite and code of it is revoked.');
    } catch (e) {
      banner(`Cannot end the session: ${errorText(e)}`);
    }
  }

  async function onRenewCode() {
    try {
      const r = await api('POST', sessionPath('/join-code'), secretAuth({ body: {} }));
      session.join_code = r.join_code;
      session.code_expires_s = r.code_expires_s;
      session.code_used = false;
      save(SESSION_KEY, session);
      showJoinCode();
    } catch (e) {
      banner(`Cannot make a new code: ${errorText(e)}`);
    }
  }

  // ---------------------------------------------------------------- socket

  function onSocketStatus(status) {
    if (status === 'online') {
      banner('');
    } else if (status === 'lost') {
      banner('Lost the connection to the Tandem service; reconnecting…');
    }
  }

  function onMessage(msg) {
    if (!session) return; // a message still in flight after leaving
    switch (msg.type) {
      case 'welcome':
        if (msg.participant && msg.participant.profile) setMyProfile(msg.participant.profile);
        setState(msg.state);
        break;
      case 'session':
        setState(msg.state);
        if (msg.event === 'ended') {
          closeSession('Session ended', 'The session has ended.');
          return;
        }
        {
          const line = CONTROL_LINE[msg.event] || describeEvent(msg, state);
          if (line && chat) chat.system(line);
        }
        break;
      case 'media':
        // The session's relay went away and the service moved it to another
        // (signaling/API.md "Relay failover and drain"): watch there. The
        // screen asks for fresh media, which now names the new relay.
        if (msg.event === 'moved' && screen) {
          if (chat) chat.system('The relay showing the screen went away; switching to another…');
          screen.start();
        }
        break;
      case 'removed':
        closeSession('Removed', 'The owner removed you from the session.');
        break;
      case 'chat':
        chat.add(msg, session && session.participant_id);
        break;
      case 'error':
        if (msg.error === 'input_denied' && msg.reason === 'customer_has_control') {
          inputError(`Input refused (${msg.event || 'event'}): the customer has taken control back.`);
        } else if (msg.error === 'input_denied' || msg.error === 'customer_offline') {
          inputError(deniedText(msg));
        } else if (msg.error === 'session_ended') {
          closeSession('Session ended', 'The session has ended.');
        } else if (msg.error === 'bad_credentials' || msg.error === 'not_present') {
          closeSession('Not in the session', errorText(new window.Tandem.TandemError(msg.error, 0, msg.detail)));
        } else {
          banner(deniedText(msg));
        }
        break;
      default:
        break;
    }
  }

  const CONTROL_LINE = {
    control_taken_back: 'The customer took control back: remote input is paused.',
    control_returned: 'The customer handed control back.',
  };

  // An input problem stays on screen a few seconds after the last one.
  let inputErrorTimer = null;
  function inputError(text) {
    show($('input-error'), text);
    clearTimeout(inputErrorTimer);
    inputErrorTimer = setTimeout(() => show($('input-error'), ''), 8000);
  }

  function me() {
    return state && session ? (state.participants || []).find((p) => p.id === session.participant_id) : null;
  }

  function isOwner() {
    return !!(state && session && state.owner === session.participant_id);
  }

  function setState(s) {
    if (!s) return;
    state = s;
    $('session-state').textContent = s.state || '—';
    showControl();
    const mine = me();
    if (mine && mine.profile && mine.profile !== session.profile) setMyProfile(mine.profile);
    // A code works once: once a customer came in with it, say so.
    const customer = (s.participants || []).find((p) => p.kind === 'customer');
    if (session.join_code && customer) {
      session.code_used = true;
      save(SESSION_KEY, session);
      $('join-code-note').textContent = `Used: ${customer.name || 'the customer'} has joined.`;
    } else if (session.join_code && session.code_used) {
      $('join-code-note').textContent = 'Used. The customer has left: make a new code for them to come back.';
    }
    if (!session.join_code) showJoinCode();
    const owner = isOwner();
    $('end-session').hidden = !owner;
    $('renew-code').hidden = !owner;
    renderPeople($('participants'), state, session.participant_id, { extra: ownerControls });
  }

  // The owner's controls on a participant's row: profile, ownership, removal.
  function ownerControls(p) {
    if (!isOwner() || p.id === session.participant_id) return [];
    const nodes = [];
    if (p.kind !== 'customer') {
      // An invitee may get only the owner's invite profiles (the service
      // enforces it); another rep any profile.
      let names = p.kind === 'invited' ? (rep.user.invite_profiles || []) : profiles.map((x) => x.name);
      if (names.length === 0) names = ['view_only', 'pointer', 'control', 'full'];
      if (!names.includes(p.profile)) names = [p.profile, ...names];
      const sel = el('select', { class: 'set-profile', 'aria-label': `Profile of ${p.name}` },
        ...names.map((n) => el('option', { value: n, text: n, selected: n === p.profile })));
      sel.addEventListener('change', async () => {
        show($('people-error'), '');
        try {
          await api('PUT', sessionPath(`/participants/${encodeURIComponent(p.id)}/profile`),
            secretAuth({ body: { profile: sel.value } }));
        } catch (e) {
          sel.value = p.profile;
          show($('people-error'), `Cannot change the profile: ${errorText(e)}`);
        }
      });
      nodes.push(sel);
    }
    if (p.kind === 'rep') {
      nodes.push(el('button', {
        type: 'button', class: 'secondary transfer', text: 'Make owner',
        onclick: async () => {
          try {
            await api('POST', sessionPath('/transfer'), secretAuth({ body: { to: p.id } }));
          } catch (e) {
            show($('people-error'), `Cannot hand over the session: ${errorText(e)}`);
          }
        },
      }));
    }
    const rm = el('button', { type: 'button', class: 'danger remove', text: 'Remove' });
    confirmClick(rm, 'Confirm removal', async () => {
      show($('people-error'), '');
      try {
        await api('DELETE', sessionPath(`/participants/${encodeURIComponent(p.id)}`), secretAuth());
      } catch (e) {
        show($('people-error'), `Cannot remove ${p.name}: ${errorText(e)}`);
      }
    });
    nodes.push(rm);
    return nodes;
  }

  // ---------------------------------------------------------------- input

  function kindsOf(profile) {
    const def = profiles.find((x) => x.name === profile);
    return window.TandemInput.kindsOf(profile, def ? def.events : undefined);
  }

  function setMyProfile(profile) {
    if (!session) return;
    session.profile = profile;
    save(SESSION_KEY, session);
    $('my-profile').textContent = profile || '—';
    const kinds = kindsOf(profile);
    const send = (m) => {
      if (!socket || !socket.send(m)) inputError('Not connected: input was not sent.');
    };
    if (!input) input = new window.TandemInput({ element: $('screen'), send, allowed: kinds });
    input.setAllowed(kinds);
    const pointer = kinds.has('pointer_move') || kinds.has('pointer_button');
    const keys = kinds.has('key_down');
    $('screen').classList.toggle('input-on', pointer || keys);
    showControl();
    $('clipboard-panel').hidden = !kinds.has('clipboard_to_customer') && !kinds.has('clipboard_from_customer');
    $('clipboard-send').hidden = !kinds.has('clipboard_to_customer');
    $('clipboard-text').hidden = !kinds.has('clipboard_to_customer');
    $('clipboard-request').hidden = !kinds.has('clipboard_from_customer');
  }

  // The control state (the customer may take it back) and what the rep's
  // input does now. Input is still sent while the customer holds control:
  // the service refuses it and says why, which the rep then sees.
  function showControl() {
    if (!session) return;
    const taken = !!(state && state.control === 'customer');
    $('control-state').textContent = state && state.control
      ? (taken ? 'taken back by the customer' : 'shared') : '—';
    $('control-state').style.color = taken ? 'var(--bad)' : '';
    $('control-state').style.fontWeight = taken ? 'bold' : '';
    const kinds = kindsOf(session.profile);
    const pointer = kinds.has('pointer_move') || kinds.has('pointer_button');
    const keys = kinds.has('key_down');
    $('input-note').textContent = taken && (pointer || keys)
      ? 'The customer has taken control back: your input is paused until they hand it back.'
      : keys ? 'Click the picture: your mouse and keyboard then go to the customer.'
        : pointer ? 'Your pointer over the picture is shown to the customer.' : 'Your profile lets you watch only.';
  }

  // ---------------------------------------------------------------- invites

  function setupInvitePanel() {
    const allowed = rep.user.may_invite ? (rep.user.invite_profiles || []) : [];
    $('invite-panel').hidden = allowed.length === 0;
    $('invite-profile').replaceChildren(...allowed.map((n) => {
      const def = profiles.find((x) => x.name === n);
      const what = def && def.events ? ` — ${def.events.length ? def.events.join(', ') : 'watch only'}` : '';
      return el('option', { value: n, text: `${n}${what}` });
    }));
  }

  async function onInvite() {
    show($('invite-error'), '');
    $('invite-create').disabled = true;
    try {
      const r = await api('POST', sessionPath('/invites'), secretAuth({
        body: { profile: $('invite-profile').value, ttl_s: Number($('invite-ttl').value) },
      }));
      // The service's link points at its public URL, or is relative (no
      // public URL configured): then it is this origin's.
      const link = r.link ? new URL(r.link, location.origin).href
        : `${location.origin}/invite.html#token=${encodeURIComponent(r.token)}`;
      invites.unshift({ invite_id: r.invite_id, profile: r.profile, expires_s: r.expires_s, link });
      $('invite-link').value = link;
      $('invite-result').hidden = false;
      $('invite-note').textContent = `Profile ${r.profile}; valid until ${clock(r.expires_s)}.`;
      renderInvites();
    } catch (e) {
      show($('invite-error'), `Cannot create the invite: ${errorText(e)}`);
    } finally {
      $('invite-create').disabled = false;
    }
  }

  function renderInvites() {
    $('invites').replaceChildren(...invites.map((inv) => {
      const li = el('li', { 'data-invite': inv.invite_id },
        el('span', { class: 'tag', text: inv.profile }),
        el('span', { class: 'notice', text: inv.revoked ? 'revoked' : `until ${clock(inv.expires_s)}` }));
      if (!inv.revoked) {
        li.append(el('button', {
          type: 'button', class: 'secondary revoke', text: 'Revoke',
          onclick: async () => {
            try {
              await api('DELETE', sessionPath(`/invites/${encodeURIComponent(inv.invite_id)}`), secretAuth());
              inv.revoked = true;
              renderInvites();
            } catch (e) {
              show($('invite-error'), `Cannot revoke: ${errorText(e)}`);
            }
          },
        }));
      }
      return li;
    }));
  }

  async function onCopy() {
    const copied = await window.Tandem.copyText($('invite-link'));
    $('invite-copy').textContent = copied ? 'Copied' : 'Press Ctrl+C';
    setTimeout(() => { $('invite-copy').textContent = 'Copy'; }, 2000);
  }

  // ---------------------------------------------------------------- start

  async function resume() {
    rep = load(REP_KEY);
    if (!rep || (rep.expires_s && rep.expires_s * 1000 < Date.now())) {
      rep = null;
      view('login');
      return;
    }
    try {
      const r = await api('GET', '/me', { bearer: rep.token });
      rep.user = r.user;
      save(REP_KEY, rep);
      await loadProfiles();
    } catch (e) {
      if (e.code === 'bad_credentials') loginLost();
      else { view('login'); show($('login-error'), errorText(e)); }
      return;
    }
    const s = load(SESSION_KEY);
    if (s && s.secret) {
      try {
        session = s;
        await api('GET', sessionPath(''), secretAuth());
        await enterSession(s);
        return;
      } catch {
        session = null;
        save(SESSION_KEY, null);
      }
    }
    view('lobby');
  }

  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  $('open-session').addEventListener('click', onOpen);
  $('rep-join-form').addEventListener('submit', onRepJoin);
  $('leave-session').addEventListener('click', onLeave);
  confirmClick($('end-session'), 'Click again to end', onEnd);
  $('renew-code').addEventListener('click', onRenewCode);
  $('invite-create').addEventListener('click', onInvite);
  $('invite-copy').addEventListener('click', onCopy);
  $('over-back').addEventListener('click', () => { view(rep ? 'lobby' : 'login'); });
  $('clipboard-send').addEventListener('click', () => {
    const text = $('clipboard-text').value;
    if (text && socket && socket.send({ type: 'clipboard_to_customer', text })) $('clipboard-text').value = '';
  });
  $('clipboard-request').addEventListener('click', () => {
    if (socket) socket.send({ type: 'clipboard_from_customer' });
  });
  chat = new Chat({
    log: $('chat-log'), form: $('chat-form'), input: $('chat-input'),
    send: (m) => !!socket && socket.send(m),
    onError: (t) => banner(t),
  });

  window.tandemPage = {
    stats: () => (screen ? screen.stats() : Promise.resolve({ connectionState: 'new', framesDecoded: 0 })),
    state: () => state,
    me: () => session && {
      session_id: session.session_id, participant_id: session.participant_id, profile: session.profile,
    },
  };

  resume();
})();
