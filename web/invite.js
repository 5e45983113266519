// Tandem invite landing page (invite.html#token=...): the invited expert
// gives a display name and joins with the one-time token of the link, then
// watches the customer's screen over WHEP, chats, and sees only the input
// controls that the invite's profile allows:
//   view_only  none (watch and chat)
//   pointer    pointer moves over the picture
//   control    mouse (move, click, scroll) and keyboard
//   full       control + clipboard both ways
// The service decides (signaling/API.md); refused input comes back as
// errors, shown under the picture. The customer may take control back at
// any time: the page shows who has control (the session state's "control")
// and says that input is paused meanwhile. When the session's relay goes
// away, the service says where it moved ({"type":"media","event":"moved"})
// and the page subscribes there at once.
//
// After joining, the participant credential is kept in sessionStorage (this
// tab only), so a reload rejoins without the (now used) token.
//
// window.tandemPage is for tests: stats(), state(), control(), me(), controls().
'use strict';

(function () {
  const { api, errorText, Socket, Screen, Chat, renderPeople, describeEvent, deniedText, el, show } = window.Tandem;
  const $ = (id) => document.getElementById(id);
  const STORE_KEY = 'tandem.invite.session';

  const KIND_TEXT = {
    pointer_move: 'Show your pointer to the customer (move the mouse over the picture)',
    pointer_button: 'Click on the customer\'s screen',
    pointer_scroll: 'Scroll on the customer\'s screen',
    key_down: 'Type on the customer\'s keyboard (click the picture first)',
    clipboard_to_customer: 'Put text on the customer\'s clipboard',
    clipboard_from_customer: 'Ask for the customer\'s clipboard',
  };

  let token = null;
  let session = null; // {token, session_id, participant_id, secret, profile, rights, name}
  let state = null;
  let socket = null;
  let screen = null;
  let input = null;
  let chat = null;
  let kinds = new Set();
  const denied = [];

  function view(name) {
    for (const v of ['join', 'refused', 'session', 'over']) $(`${v}-view`).hidden = v !== name;
  }
  function banner(text) { show($('banner'), text); }

  function refused(code, text) {
    const titles = {
      invite_used: 'This invite was already used',
      invite_expired: 'This invite has expired',
      invite_revoked: 'This invite was withdrawn',
      invite_unknown: 'This invite link is not valid',
      session_ended: 'The session is over',
    };
    $('refused-title').textContent = titles[code] || 'This invite cannot be used';
    $('join-error').textContent = text;
    $('join-error').dataset.error = code || '';
    view('refused');
  }

  function tokenFromLink() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const t = params.get('token');
    return t && t.trim() ? t.trim() : null;
  }

  async function onJoin(ev) {
    ev.preventDefault();
    banner('');
    const name = $('display-name').value.trim();
    if (!name) return;
    if (new TextEncoder().encode(name).length > 64) {
      banner('That name is too long: please shorten it.');
      return;
    }
    $('join-submit').disabled = true;
    try {
      const r = await api('POST', '/invites/accept', { body: { token, display_name: name } });
      await enterSession({
        token, name, session_id: r.session_id, participant_id: r.participant_id, secret: r.secret,
        profile: r.profile, rights: r.rights || null,
      });
    } catch (e) {
      if (['invite_used', 'invite_expired', 'invite_revoked', 'invite_unknown', 'session_ended'].includes(e.code)) {
        refused(e.code, errorText(e));
      } else {
        banner(`Cannot join: ${errorText(e)}`);
      }
    } finally {
      $('join-submit').disabled = false;
    }
  }

  const sessionPath = (rest) => `/sessions/${encodeURIComponent(session.session_id)}${rest || ''}`;
  const secretAuth = (extra) => ({ secret: session.secret, ...(extra || {}) });

  async function enterSession(s) {
    session = s;
    sessionStorage.setItem(STORE_KEY, JSON.stringify(s));
    $('who').textContent = s.name || '';
    $('who').hidden = !s.name;
    view('session');
    setProfile(s.profile, s.rights);
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

  async function closeSession(title, text) {
    if (socket) socket.close();
    socket = null;
    if (input) input.detach();
    input = null;
    if (screen) await screen.stop();
    screen = null;
    session = null;
    sessionStorage.removeItem(STORE_KEY);
    banner('');
    $('over-title').textContent = title;
    $('over-text').textContent = text || '';
    view('over');
  }

  function onSocketStatus(status) {
    if (status === 'online') banner('');
    else if (status === 'lost') banner('Lost the connection to the Tandem service; reconnecting…');
  }

  function onMessage(msg) {
    if (!session) return; // a message still in flight after leaving
    switch (msg.type) {
      case 'welcome':
        setState(msg.state);
        break;
      case 'session':
        setState(msg.state);
        if (msg.event === 'ended') {
          closeSession('The session has ended', 'The support rep ended the session. Thank you for helping.');
          return;
        }
        {
          const line = describeEvent(msg, state);
          if (line) chat.system(line);
        }
        break;
      case 'media':
        // The session's relay went away and the service moved it to another
        // (signaling/API.md "Relay failover and drain"): watch there at
        // once, with the media the message carries (WHEP, our own token).
        if (msg.event === 'moved' && screen) {
          chat.system('The relay showing the screen went away; switching to another…');
          screen.start(msg.media);
        }
        break;
      case 'removed':
        closeSession('You left the session', 'The support rep removed you from the session.');
        break;
      case 'chat':
        chat.add(msg, session.participant_id);
        break;
      case 'error':
        if (msg.error === 'input_denied' || msg.error === 'customer_offline') {
          denied.push(deniedText(msg));
          if (denied.length > 5) denied.shift();
          $('input-error').replaceChildren(...denied.map((t) => el('div', { text: t })));
          $('input-error').hidden = false;
        } else if (msg.error === 'session_ended') {
          closeSession('The session has ended', 'The support rep ended the session. Thank you for helping.');
        } else if (msg.error === 'bad_credentials' || msg.error === 'not_present') {
          closeSession('You are no longer in the session',
            errorText(new window.Tandem.TandemError(msg.error, 0, msg.detail)));
        } else {
          banner(deniedText(msg));
        }
        break;
      default:
        break;
    }
  }

  function setState(s) {
    if (!s) return;
    state = s;
    const mine = (s.participants || []).find((p) => p.id === session.participant_id);
    if (mine && mine.profile && mine.profile !== session.profile) {
      // The rights of the new profile: the invite's list when it is the
      // invite's profile again, the built-in table otherwise.
      setProfile(mine.profile, mine.profile === session.accepted_profile ? session.accepted_rights : null);
    }
    renderPeople($('participants'), s, session.participant_id);
    showControl();
  }

  function takenBack() { return !!(state && state.control === 'customer'); }

  // Who drives the customer's screen. Input is still sent while the
  // customer holds control: the service refuses it and says why.
  function showControl() {
    const taken = takenBack();
    const node = $('control-state');
    node.textContent = state && state.control ? (taken ? 'taken back by the customer' : 'shared') : '—';
    node.dataset.control = (state && state.control) || '';
    node.style.color = taken ? 'var(--bad)' : '';
    node.style.fontWeight = taken ? 'bold' : '';
    showInputNote();
  }

  function showInputNote() {
    const pointer = kinds.has('pointer_move') || kinds.has('pointer_button') || kinds.has('pointer_scroll');
    const keys = kinds.has('key_down') || kinds.has('key_up');
    $('input-note').textContent = takenBack() && (pointer || keys)
      ? 'The customer has taken control back: your input is paused until they hand it back.'
      : keys ? 'Click the picture: your mouse and keyboard then go to the customer.'
        : pointer ? 'Move your mouse over the picture to show the customer where to look.'
          : 'You can watch and chat; this invite allows no input to the customer\'s computer.';
  }

  // Shows exactly the controls the profile allows and wires only those.
  function setProfile(profile, rights) {
    if (!session.accepted_profile) {
      session.accepted_profile = profile;
      session.accepted_rights = rights;
    }
    session.profile = profile;
    session.rights = rights;
    sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
    kinds = window.TandemInput.kindsOf(profile, rights && rights.events);
    $('my-profile').textContent = profile;

    const items = ['Watch the customer\'s screen', 'Chat with everyone in the session'];
    for (const [k, text] of Object.entries(KIND_TEXT)) if (kinds.has(k)) items.push(text);
    const chords = rights && Array.isArray(rights.blocked_chords) ? rights.blocked_chords : [];
    if (kinds.has('key_down') && chords.length) items.push(`Blocked key combinations: ${chords.join(', ')}`);
    $('rights').replaceChildren(...items.map((t) => el('li', { text: t })));

    const video = $('screen');
    const pointer = kinds.has('pointer_move') || kinds.has('pointer_button') || kinds.has('pointer_scroll');
    const keys = kinds.has('key_down') || kinds.has('key_up');
    if (pointer || keys) {
      const send = (m) => {
        if (!socket || !socket.send(m)) banner('Not connected: input was not sent.');
      };
      if (!input) input = new window.TandemInput({ element: video, send, allowed: kinds });
      input.setAllowed(kinds);
      video.classList.add('input-on');
    } else {
      if (input) input.detach();
      input = null;
      video.classList.remove('input-on');
      video.removeAttribute('tabindex');
    }
    showInputNote();
    const clipTo = kinds.has('clipboard_to_customer');
    const clipFrom = kinds.has('clipboard_from_customer');
    $('clipboard-controls').hidden = !clipTo && !clipFrom;
    $('clipboard-to').hidden = !clipTo;
    $('clipboard-from').hidden = !clipFrom;
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
    await closeSession('You left the session', 'Thank you for helping.');
  }

  async function start() {
    token = tokenFromLink();
    let stored = null;
    try { stored = JSON.parse(sessionStorage.getItem(STORE_KEY)); } catch { stored = null; }
    if (stored && stored.secret && (!token || stored.token === token)) {
      // A reload after joining: the token is spent, the credential is not.
      session = stored;
      try {
        await api('GET', sessionPath(''), secretAuth());
        await enterSession(stored);
        return;
      } catch (e) {
        sessionStorage.removeItem(STORE_KEY);
        session = null;
        if (!token) {
          refused(e.code, errorText(e));
          return;
        }
      }
    }
    if (!token) {
      refused('invite_unknown', 'This link has no invite in it. Open the whole link you were sent, '
        + 'or ask the support rep for a new one.');
      return;
    }
    view('join');
    $('display-name').focus();
  }

  $('join-form').addEventListener('submit', onJoin);
  $('leave-session').addEventListener('click', onLeave);
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
    control: () => (state && state.control) || null,
    me: () => session && {
      session_id: session.session_id, participant_id: session.participant_id, profile: session.profile,
    },
    // Sends one message as the page would (a test stands in for a page
    // that offers more than the profile allows); false when not connected.
    send: (msg) => !!socket && socket.send(msg),
    // What the page offers for input, as it is on screen now.
    controls: () => ({
      kinds: [...kinds],
      pointer: $('screen').classList.contains('input-on'),
      focusable: $('screen').hasAttribute('tabindex'),
      clipboard: !$('clipboard-controls').hidden,
    }),
  };

  start();
})();
