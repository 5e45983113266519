// Tandem recordings (auditor.html): an auditor (or admin) logs in, lists the
// recorded sessions with who took part and whether each recording verifies,
// opens one, plays it (the service's WebM export, seekable), sees the
// session's audit events as markers on the time line and in a list — a
// click on either jumps the video there — and the verification result
// (verified, or the first fault, as tandem-replay verify reports it).
// API: signaling/API.md, "Recordings".
//
// The login token stays in sessionStorage (this tab only); the video URL
// carries a short-lived ticket for that one recording, because a <video>
// element cannot send the token.
//
// window.auditorPage is for tests: state(), markers(), seek(seconds).
'use strict';

(function () {
  const { api, errorText, el, show } = window.Tandem;
  const $ = (id) => document.getElementById(id);
  const AUTH_KEY = 'tandem.auditor';
  const POLL_MS = 700;
  const LIVE_POLL_MS = 3000;

  let auth = null;      // {token, user}
  let current = null;   // the detail answer of the open recording
  let pollTimer = null;
  let videoSet = false;

  function load() {
    try { return JSON.parse(sessionStorage.getItem(AUTH_KEY)); } catch { return null; }
  }
  function save(v) {
    if (v) sessionStorage.setItem(AUTH_KEY, JSON.stringify(v));
    else sessionStorage.removeItem(AUTH_KEY);
  }

  function view(name) {
    for (const v of ['login', 'list', 'recording']) $(`${v}-view`).hidden = v !== name;
    $('who').hidden = !auth;
    $('who').textContent = auth ? `${auth.user.name} (${auth.user.role})` : '';
    $('logout').hidden = !auth;
  }

  function stopPolling() {
    clearTimeout(pollTimer);
    pollTimer = null;
  }

  // m:ss.s, with a sign for events before the recording started.
  function clock(s) {
    if (typeof s !== 'number' || !isFinite(s)) return '—';
    const sign = s < 0 ? '−' : '';
    const a = Math.abs(s);
    const m = Math.floor(a / 60);
    const sec = (a - m * 60).toFixed(1).padStart(4, '0');
    return `${sign}${m}:${sec}`;
  }

  function utc(unixS) {
    if (typeof unixS !== 'number') return '—';
    return new Date(unixS * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  }

  function failed(e) {
    if (e.code === 'bad_credentials') {
      auth = null;
      save(null);
      stopPolling();
      view('login');
      show($('login-error'), 'Your login has expired. Please log in again.');
      return;
    }
    show($('banner'), errorText(e));
  }

  // ------------------------------------------------------------ login
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    show($('login-error'), '');
    $('login-submit').disabled = true;
    try {
      const r = await api('POST', '/login', {
        body: { name: $('login-name').value.trim(), password: $('login-password').value },
      });
      $('login-password').value = '';
      if (r.user.role !== 'auditor' && r.user.role !== 'admin') {
        // The service would refuse every call; say so at once, and log out.
        api('POST', '/logout', { bearer: r.token }).catch(() => {});
        show($('login-error'), 'Recordings are for auditors and admins; this account is a ' + r.user.role + '.');
        return;
      }
      auth = { token: r.token, user: r.user };
      save(auth);
      route();
    } catch (e) {
      show($('login-error'), e.code === 'bad_credentials' ? 'Wrong name or password.' : errorText(e));
    } finally {
      $('login-submit').disabled = false;
    }
  });

  $('logout').addEventListener('click', async () => {
    const t = auth && auth.token;
    auth = null;
    save(null);
    stopPolling();
    closePlayer();
    location.hash = '';
    view('login');
    if (t) api('POST', '/logout', { bearer: t }).catch(() => {});
  });

  // ------------------------------------------------------------- list
  const VERIFY_TEXT = {
    verified: 'verified',
    truncated: 'cut short',
    fault: 'FAILED',
    pending: 'checking…',
    unreadable: 'unreadable',
    recording: 'recording…',
  };

  function verifyBadge(v) {
    const status = (v && v.status) || 'pending';
    return el('span', {
      class: `badge verify-${status}`,
      title: (v && v.problem) || '',
      text: VERIFY_TEXT[status] || status,
    });
  }

  function peopleCell(parts) {
    const td = el('td', { class: 'who-cell' });
    if (!parts || !parts.length) td.textContent = '—';
    for (const p of parts || []) {
      td.append(el('span', { class: 'person' },
        el('span', { class: 'name', text: p.name || p.id }),
        ' ',
        el('span', { class: 'tag', text: p.kind }),
        p.profiles && p.profiles.length ? el('span', { class: 'tag', text: p.profiles.join(' → ') }) : ''));
    }
    return td;
  }

  async function showList() {
    stopPolling();
    closePlayer();
    view('list');
    show($('banner'), '');
    let r;
    try {
      r = await api('GET', '/recordings', { bearer: auth.token });
    } catch (e) {
      failed(e);
      return;
    }
    if (location.hash) return; // navigated on meanwhile
    const body = $('recordings-body');
    body.replaceChildren();
    for (const rec of r.recordings) {
      const open = el('button', { type: 'button', class: 'secondary', text: 'Open', 'data-id': rec.id,
        onclick: () => { location.hash = `#rec=${encodeURIComponent(rec.id)}`; } });
      if (rec.state === 'error') open.disabled = true;
      body.append(el('tr', { 'data-id': rec.id },
        el('td', { text: utc(rec.start_unix_s) }),
        el('td', { text: rec.duration_s == null ? '—' : clock(rec.duration_s) }),
        el('td', { class: 'mono', text: (rec.session || rec.file) + (rec.segments > 1
          ? ` · ${rec.segments} segments${rec.gaps ? `, ${rec.gaps.length} gap(s)` : ''}` : '') }),
        peopleCell(rec.participants),
        el('td', {}, verifyBadge(rec.verify),
          rec.state === 'error' ? el('div', { class: 'notice problem', text: rec.verify.problem || '' }) : null),
        el('td', {}, open)));
    }
    $('list-note').textContent = r.recordings.length ? '' : 'No recordings yet.';
    // Verification runs on the service; look again while any is pending
    // (or, less often, still being recorded).
    if (r.recordings.some((x) => x.state === 'pending')) pollTimer = setTimeout(showList, POLL_MS);
    else if (r.recordings.some((x) => x.state === 'live')) pollTimer = setTimeout(showList, LIVE_POLL_MS);
  }
  $('refresh').addEventListener('click', showList);

  // -------------------------------------------------------- recording
  const KIND_TEXT = {
    session_opened: 'Session opened',
    participant_joined: 'joined',
    participant_left: 'left',
    participant_removed: 'was removed',
    profile_changed: 'profile changed',
    input_allowed: 'input',
    input_denied: 'input DENIED',
    invite_created: 'created an invite',
    invite_used: 'used an invite',
    invite_revoked: 'revoked an invite',
    ownership_transferred: 'ownership handed over',
    session_ended: 'Session ended',
    recording_started: 'Relay started recording',
    recording_stopped: 'Relay stopped recording',
    recording_start: 'Recording starts',
    recording_end: 'Recording ends',
    recording_cut: 'Recording cut short',
    recording_fault: 'Recording FAULT',
    stream_start: 'Stream starts',
    stream_stop: 'Stream stops',
    gap: 'Packets missing',
    overlap: 'Segments overlap (recorded twice)',
    silence: 'Stream silent',
    drop: 'Packets dropped (disk behind)',
  };

  function describe(ev) {
    const d = ev.details || {};
    const who = ev.who && (ev.who.name || ev.who.id);
    const subj = ev.subject && (ev.subject.name || ev.subject.id);
    switch (ev.kind) {
      case 'participant_joined':
        return `${who} joined (${d.kind || '?'}${d.profile ? ', ' + d.profile : ''})`;
      case 'participant_left': return `${who} left`;
      case 'profile_changed': return `${who} changed ${subj}'s profile: ${d.from} → ${d.to}`;
      case 'input_denied':
        return `${who}: input denied (${d.event || '?'}, ${d.reason || '?'}${d.profile ? ', profile ' + d.profile : ''})`;
      case 'control_taken_back': return `${who || 'the customer'} took control back`;
      case 'control_returned':
        return d.reason ? `control returned to the reps (${d.reason.replace(/_/g, ' ')})` : `${who || 'the customer'} gave control back`;
      case 'input_allowed': return `${who}: ${d.count || '?'} input event(s) (profile ${d.profile || '?'})`;
      case 'invite_created': return `${who} invited an expert (${d.profile || '?'})`;
      case 'gap':
        return d.what === 'no recording'
          ? `Nothing recorded for ${(d.duration_s || 0).toFixed(1)} s (between segments ${d.after_segment} and ${d.before_segment}): the player holds the last picture`
          : KIND_TEXT.gap;
      default: {
        const label = KIND_TEXT[ev.kind] || ev.kind.replace(/_/g, ' ');
        return who && ev.source === 'audit' ? `${who}: ${label}` : label;
      }
    }
  }

  function closePlayer() {
    const v = $('player');
    v.pause();
    v.removeAttribute('src');
    v.load();
    videoSet = false;
    current = null;
  }

  function seek(t) {
    const v = $('player');
    const dur = isFinite(v.duration) ? v.duration : null;
    let target = Math.max(0, t);
    if (dur !== null) target = Math.min(target, Math.max(0, dur - 0.05));
    v.currentTime = target;
  }

  function verifyText(rec) {
    const v = rec.verify || {};
    const box = $('verify');
    box.className = `verify verify-${v.status || 'pending'}`;
    switch (v.status) {
      case 'verified':
        box.textContent = v.segments
          ? `Verified: every record's seal and the hash chain of each of its ${v.segments.length} segments check out, and the last one is complete (SHA-256 ${v.segments.map((g) => g.hash || '?').join(', ')}).`
          : `Verified: every record's seal and the hash chain check out, and the recording is complete (SHA-256 ${v.hash || '?'}).`;
        break;
      case 'truncated':
        box.textContent = `Cut short: verified up to where it ends (${v.problem || ''}). A crash, or a recording still being written.`;
        break;
      case 'fault':
        box.textContent = `Verification FAILED: ${v.problem || 'unknown fault'}. The recording was altered or damaged.`;
        break;
      case 'unreadable':
        box.textContent = `Cannot be read: ${v.problem || ''}`;
        break;
      case 'recording':
        box.textContent = 'Still being recorded: verification and playback once the relay has closed the file.';
        break;
      default:
        box.textContent = 'Verifying…';
    }
  }

  function renderDetail(rec) {
    $('rec-title').textContent = `Session ${rec.session || rec.id}`;
    $('rec-meta').textContent =
      `${rec.file || `${rec.segments} segments: ${(rec.files || []).join(', ')}`} · started ${utc(rec.start_unix_s)} UTC · ${rec.duration_s == null ? '—' : clock(rec.duration_s)} · ${rec.size} bytes`;
    verifyText(rec);
    const audit = rec.audit;
    if (audit) {
      $('audit-status').textContent = audit.verified
        ? `Audit log: ${audit.entries} entries, verified.`
        : `Audit log: NOT verified — ${audit.problem || 'unknown'}.`;
    } else {
      $('audit-status').textContent = rec.error ? `Audit log: ${rec.error}` : '';
    }

    const people = $('rec-people');
    people.replaceChildren();
    for (const p of (audit && audit.participants) || []) {
      people.append(el('li', {},
        el('span', { class: 'name', text: p.name || p.id }),
        el('span', { class: 'tag', text: p.kind }),
        el('span', { class: 'tag', text: (p.profiles || []).join(' → ') || '—' }),
        el('span', { class: 'notice', style: 'margin: 0', text: `${utc(p.joined_unix_s)}${p.left_unix_s ? ' – ' + utc(p.left_unix_s) : ''}` })));
    }

    // Markers: the audit events inside the recording; the list has them
    // all (keyframes aside), before and after too.
    const events = (rec.events || []).filter((e) => e.kind !== 'keyframe');
    const dur = rec.duration_s || 0;
    const line = $('timeline');
    for (const m of line.querySelectorAll('.marker, .gap-region')) m.remove();
    // Gaps between segments (nothing recorded): a hatched stretch.
    for (const ev of events) {
      const d = ev.details || {};
      if (ev.kind !== 'gap' || d.what !== 'no recording' || !(dur > 0)) continue;
      const from = Math.max(0, d.start_offset_s), to = Math.min(dur, d.end_offset_s);
      line.append(el('div', {
        class: 'gap-region', 'data-start': d.start_offset_s, 'data-end': d.end_offset_s,
        title: describe(ev),
        style: `position: absolute; top: 0; bottom: 0; left: ${(100 * from / dur).toFixed(3)}%; ` +
          `width: ${(100 * Math.max(0, to - from) / dur).toFixed(3)}%; pointer-events: none; ` +
          'background: repeating-linear-gradient(45deg, rgba(128,128,128,.45) 0 4px, transparent 4px 8px);',
      }));
    }
    const list = $('events');
    list.replaceChildren();
    let outside = 0;
    events.forEach((ev, i) => {
      const inside = ev.offset_s >= 0 && ev.offset_s <= dur;
      const text = describe(ev);
      const cls = `${ev.source}${ev.kind === 'input_denied' || ev.fault || ev.kind === 'recording_fault' ? ' alert' : ''}`;
      const li = el('li', { class: cls, 'data-offset': ev.offset_s, 'data-kind': ev.kind, tabindex: inside ? 0 : null },
        el('span', { class: 'at', text: clock(ev.offset_s) }),
        el('span', { class: 'what', text: text + (ev.fault ? ` — FAULT: ${ev.fault}` : '') }));
      if (inside) {
        li.addEventListener('click', () => seek(ev.offset_s));
        li.addEventListener('keydown', (k) => { if (k.key === 'Enter') seek(ev.offset_s); });
      } else {
        li.classList.add('outside');
        li.title = ev.offset_s < 0 ? 'before the recording started' : 'after the recording ended';
      }
      list.append(li);
      if (ev.source === 'audit' && inside && dur > 0) {
        line.append(el('button', {
          type: 'button', class: `marker ${cls}`, 'data-offset': ev.offset_s, 'data-kind': ev.kind,
          'data-index': i, title: `${clock(ev.offset_s)} ${text}`, 'aria-label': `${clock(ev.offset_s)} ${text}`,
          style: `left: ${(100 * ev.offset_s / dur).toFixed(3)}%`,
          onclick: () => seek(ev.offset_s),
        }));
      } else if (ev.source === 'audit' && !inside) {
        outside++;
      }
    });
    $('timeline-note').textContent = outside
      ? `${outside} audit event(s) fall before or after the recording: see the list.` : '';
    stackMarkers(dur);
  }

  // Markers closer than their width would cover each other and one could
  // not be clicked: each goes on the first row (from the track down) where
  // it keeps a marker's width from the one before; the line grows a row at
  // a time. Redone when the line's width changes (also when it is shown:
  // hidden, it has no width to place by).
  const MARKER_STEP_PX = 15;
  const MAX_MARKER_ROWS = 4;
  let stackedDur = 0;
  function stackMarkers(dur) {
    const line = $('timeline');
    if (dur !== undefined) stackedDur = dur;
    const width = line.clientWidth;
    if (!(width > 0)) return;
    const markers = Array.from(line.querySelectorAll('.marker'))
      .sort((a, b) => Number(a.dataset.offset) - Number(b.dataset.offset));
    const rowEnds = [];
    for (const m of markers) {
      const x = stackedDur > 0 ? width * Number(m.dataset.offset) / stackedDur : 0;
      let row = rowEnds.findIndex((end) => x - end >= MARKER_STEP_PX);
      if (row < 0 && rowEnds.length < MAX_MARKER_ROWS) row = rowEnds.push(x) - 1;
      // Crowded beyond the rows (a long session's per-second counts): the
      // row free the longest; the events list has every one anyway.
      if (row < 0) row = rowEnds.indexOf(Math.min(...rowEnds));
      rowEnds[row] = x;
      m.dataset.row = row;
      m.style.marginTop = `${-6 + row * MARKER_STEP_PX}px`;
    }
    line.style.height = rowEnds.length > 1 ? `calc(2.2em + ${(rowEnds.length - 1) * MARKER_STEP_PX}px)` : '';
    line.classList.toggle('stacked', rowEnds.length > 1);
  }
  if (window.ResizeObserver) new ResizeObserver(() => stackMarkers()).observe($('timeline'));
  else window.addEventListener('resize', () => stackMarkers());

  function updateVideo(rec) {
    const v = rec.video || {};
    const state = $('player-state');
    if (v.state === 'ready' && !videoSet) {
      videoSet = true;
      $('player').src = v.url;
      state.textContent = 'Loading video…';
    } else if (v.state === 'failed') {
      state.textContent = `No video: ${v.error || 'the export failed'}`;
    } else if (v.state === 'exporting') {
      state.textContent = 'Preparing the video…';
    } else if (v.state === 'live') {
      state.textContent = 'Still being recorded';
    }
  }

  async function openRecording(id) {
    stopPolling();
    if (!current || current.id !== id) {
      closePlayer();
      $('timeline-head').style.left = '0%';
      $('player-state').hidden = false;
      $('player-state').textContent = 'Loading…';
      $('events').replaceChildren();
      $('rec-people').replaceChildren();
      for (const m of $('timeline').querySelectorAll('.marker, .gap-region')) m.remove();
    }
    view('recording');
    show($('banner'), '');
    let rec;
    try {
      rec = await api('GET', `/recordings/${encodeURIComponent(id)}`, { bearer: auth.token });
    } catch (e) {
      if (e.status === 422 || e.status === 404) {
        $('verify').className = 'verify verify-unreadable';
        $('verify').textContent = `Cannot be read: ${e.detail || e.message}`;
        $('player-state').textContent = 'No video';
        return;
      }
      failed(e);
      return;
    }
    if (location.hash !== `#rec=${encodeURIComponent(id)}`) return;
    const first = !current || current.state !== rec.state;
    current = rec;
    if (first || rec.state === 'ready') renderDetail(rec);
    updateVideo(rec);
    if (rec.state === 'pending' || (rec.video && rec.video.state === 'exporting')) {
      pollTimer = setTimeout(() => openRecording(id), POLL_MS);
    } else if (rec.state === 'live') {
      pollTimer = setTimeout(() => openRecording(id), LIVE_POLL_MS);
    }
  }

  $('back').addEventListener('click', () => { location.hash = ''; });

  const player = $('player');
  player.addEventListener('loadeddata', () => { $('player-state').hidden = true; });
  // The video URL's ticket lasts 2 hours (and not past a restart of the
  // service): on an error, fetch a fresh one once and go on where we were.
  let retried = false;
  player.addEventListener('loadeddata', () => { retried = false; });
  player.addEventListener('error', async () => {
    const at = player.currentTime;
    if (current && !retried && auth) {
      retried = true;
      try {
        const rec = await api('GET', `/recordings/${encodeURIComponent(current.id)}`, { bearer: auth.token });
        if (rec.video && rec.video.state === 'ready' && current && rec.id === current.id) {
          player.src = rec.video.url;
          player.addEventListener('loadedmetadata', () => { player.currentTime = at; }, { once: true });
          return;
        }
      } catch (e) {
        if (e.code === 'bad_credentials') { failed(e); return; }
      }
    }
    $('player-state').hidden = false;
    $('player-state').textContent = 'The video cannot be played.';
  });
  player.addEventListener('timeupdate', () => {
    const dur = current && current.duration_s;
    if (dur) $('timeline-head').style.left = `${Math.min(100, 100 * player.currentTime / dur)}%`;
  });
  // A click on the bare time line seeks there too.
  $('timeline').addEventListener('click', (ev) => {
    if (ev.target.classList.contains('marker') || !current || !current.duration_s) return;
    const r = $('timeline').getBoundingClientRect();
    seek(current.duration_s * (ev.clientX - r.left) / r.width);
  });

  function route() {
    if (!auth) { view('login'); return; }
    const m = /^#rec=(.+)$/.exec(location.hash);
    if (m) openRecording(decodeURIComponent(m[1]));
    else showList();
  }
  window.addEventListener('hashchange', route);

  window.auditorPage = {
    state: () => current,
    gaps: () => Array.from(document.querySelectorAll('#timeline .gap-region')).map((g) => ({ start: +g.dataset.start, end: +g.dataset.end })),
    markers: () => Array.from(document.querySelectorAll('#timeline .marker'))
      .map((m) => ({ kind: m.dataset.kind, offset: Number(m.dataset.offset), row: Number(m.dataset.row || 0) })),
    seek,
  };

  auth = load();
  route();
})();
