// The browser side of the WHIP/WHEP test: what a rep console would do with
// a plain RTCPeerConnection and fetch, nothing else. The test (browser_test.mjs)
// loads page.html, which loads this file, and calls window.tandem.* through
// page.evaluate.
//
//   publish({url, token, codec, audio, audioFirst, source, dtlsServer, trickle,
//            dataChannel})
//                                          canvas or display (+ oscillator) over WHIP
//   subscribe({url, token, audio, audioFirst, dtlsServer, trickle, dataChannel})
//                                          recvonly video (+ audio) over WHEP
//   stats()                                the figures the test asserts on
//   close()                                DELETE the resource, close the pc
'use strict';

const GATHER_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 15000;

let pc = null;
let resourceUrl = null;
let bearer = null;
let animation = null;
let audioContext = null;
const log = [];

function note(text) {
  log.push(`${(performance.now() / 1000).toFixed(3)} ${text}`);
}

function timeout(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms));
}

// The whole offer in one POST (no trickle): wait until Chromium has gathered,
// bounded, since a host with no usable interface never completes.
async function gathered(peer) {
  if (peer.iceGatheringState === 'complete') return;
  await Promise.race([
    new Promise((resolve) => {
      peer.addEventListener('icegatheringstatechange', () => {
        if (peer.iceGatheringState === 'complete') resolve();
      });
    }),
    timeout(GATHER_TIMEOUT_MS, 'ICE gathering'),
  ]);
}

async function connected(peer) {
  if (peer.connectionState === 'connected') return;
  await Promise.race([
    new Promise((resolve, reject) => {
      peer.addEventListener('connectionstatechange', () => {
        note(`connectionState ${peer.connectionState}`);
        if (peer.connectionState === 'connected') resolve();
        if (peer.connectionState === 'failed') reject(new Error('connection failed'));
      });
    }),
    timeout(CONNECT_TIMEOUT_MS, 'ICE + DTLS connection'),
  ]);
}

// POSTs the local offer to a WHIP/WHEP endpoint and applies the answer.
// dtlsServer: the offer the relay sees says a=setup:passive instead of
// Chromium's actpass, so the relay answers active and is the DTLS client
// (Chromium takes the server role from that answer; its own description
// keeps actpass, as JSEP allows).
// trickle: the offer goes out at once, without candidates, and each
// candidate follows in a PATCH (RFC 9725 4.3.1, RFC 8840 fragments);
// otherwise the offer waits for gathering and carries them all.
async function exchange(url, token, { dtlsServer, trickle }) {
  const patches = trickle ? trickler() : null;
  await pc.setLocalDescription(await pc.createOffer());
  if (!trickle) await gathered(pc);
  let offer = pc.localDescription.sdp;
  if (dtlsServer) offer = offer.replace(/^a=setup:actpass(?=\r?$)/gm, 'a=setup:passive');
  note(`offer ${offer.length} bytes`);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
    body: offer,
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`POST ${url}: ${res.status} ${body}`);
  const location = res.headers.get('Location');
  if (!location) throw new Error('201 without Location');
  resourceUrl = new URL(location, url).href;
  bearer = token;
  note(`answer ${body.length} bytes, resource ${resourceUrl}`);
  if (patches) patches.start(res.headers.get('ETag'), offer);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  await connected(pc);
  const trickled = patches ? await patches.done() : null;
  return { offer, answer: body, trickled };
}

// Collects Chromium's candidates from the moment the offer is made and, once
// the resource exists, PATCHes each (in order) to it; the null candidate
// becomes a=end-of-candidates. done() gives the HTTP status of every PATCH.
function trickler() {
  const queue = [];
  const statuses = [];
  let etag = null;
  let creds = null;
  let chain = Promise.resolve();
  let ended = null;
  const finished = new Promise((resolve) => { ended = resolve; });
  const send = (c) => {
    // The fragment's m-line names the section the candidate belongs to (the
    // relay matches it by mid); the end of candidates goes with the first.
    const mid = c ? c.sdpMid : pc.getTransceivers()[0].mid;
    const t = pc.getTransceivers().find((x) => x.mid === mid);
    const kind = t ? t.receiver.track.kind : 'application';
    const lines = [creds, `m=${kind} 9 UDP/TLS/RTP/SAVPF 0`, `a=mid:${mid}`];
    lines.push(c ? `a=${c.candidate}` : 'a=end-of-candidates');
    const headers = { 'Content-Type': 'application/trickle-ice-sdpfrag', Authorization: `Bearer ${bearer}` };
    if (etag) headers['If-Match'] = etag;
    chain = chain.then(async () => {
      const r = await fetch(resourceUrl, { method: 'PATCH', headers, body: `${lines.join('\r\n')}\r\n` });
      statuses.push(r.status);
      note(`PATCH ${c ? c.candidate : 'end-of-candidates'}: ${r.status}`);
      if (!c) ended();
    });
  };
  let endSeen = false;
  pc.addEventListener('icecandidate', (ev) => {
    const c = ev.candidate && ev.candidate.candidate ? ev.candidate : null;
    // Chromium may signal the end twice (an empty candidate, then null).
    if (!c && endSeen) return;
    if (!c) endSeen = true;
    if (creds) send(c);
    else queue.push(c);
  });
  return {
    start(tag, offer) {
      etag = tag;
      const ufrag = offer.match(/^a=ice-ufrag:(.*?)\r?$/m)[1];
      const pwd = offer.match(/^a=ice-pwd:(.*?)\r?$/m)[1];
      creds = `a=ice-ufrag:${ufrag}\r\na=ice-pwd:${pwd}`;
      for (const c of queue.splice(0)) send(c);
    },
    async done() {
      await Promise.race([finished, timeout(GATHER_TIMEOUT_MS, 'trickle PATCHes')]);
      await chain;
      return statuses;
    },
  };
}

// An ICE restart through the resource (RFC 9725 4.3.2): new credentials and
// every candidate in one PATCH with If-Match: "*"; the relay answers 200
// with its own new credentials and candidates, which go into the remote
// description in place of the old ones. Resolves once ICE is connected
// again, with what the relay sent.
async function restartIce() {
  pc.restartIce();
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const local = pc.localDescription.sdp;
  const t = pc.getTransceivers()[0];
  const lines = [
    local.match(/^a=ice-ufrag:.*?(?=\r?$)/m)[0],
    local.match(/^a=ice-pwd:.*?(?=\r?$)/m)[0],
    `m=${t.receiver.track.kind} 9 UDP/TLS/RTP/SAVPF 0`,
    `a=mid:${t.mid}`,
  ];
  // The candidates of the first m-section (with BUNDLE, the only ones).
  const first = local.split(/\r?\nm=/)[1];
  for (const m of first.matchAll(/^a=candidate:.*?(?=\r?$)/gm)) lines.push(m[0]);
  lines.push('a=end-of-candidates');
  const res = await fetch(resourceUrl, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', Authorization: `Bearer ${bearer}`,
      'If-Match': '*' },
    body: `${lines.join('\r\n')}\r\n`,
  });
  const frag = await res.text();
  note(`ICE restart: ${res.status} ${JSON.stringify(frag)}`);
  if (res.status !== 200) throw new Error(`ICE restart PATCH: ${res.status} ${frag}`);
  const ufrag = frag.match(/^a=ice-ufrag:(.*?)\r?$/m);
  const pwd = frag.match(/^a=ice-pwd:(.*?)\r?$/m);
  const cands = [...frag.matchAll(/^a=candidate:.*?(?=\r?$)/gm)].map((m) => m[0]);
  if (!ufrag || !pwd || cands.length === 0) throw new Error(`ICE restart: relay sent ${frag}`);
  // The relay's last answer with the new credentials and candidates (the
  // candidates live in its first m-section, the BUNDLE transport).
  const old = pc.currentRemoteDescription.sdp;
  // (In a JS regular expression '.' stops at '\r' and '$' matches before it.)
  let sdp = old.replace(/^a=ice-ufrag:.*$/gm, `a=ice-ufrag:${ufrag[1]}`)
    .replace(/^a=ice-pwd:.*$/gm, `a=ice-pwd:${pwd[1]}`)
    .replace(/^a=candidate:.*\r?\n/gm, '');
  sdp = sdp.replace(/^a=end-of-candidates\r?\n/m, `${cands.join('\r\n')}\r\na=end-of-candidates\r\n`);
  await pc.setRemoteDescription({ type: 'answer', sdp });
  // The old pair may carry media meanwhile, so 'connected' proves nothing:
  // wait until the transport runs on the new local credentials.
  const localUfrag = lines[0].slice('a=ice-ufrag:'.length);
  const deadline = performance.now() + CONNECT_TIMEOUT_MS;
  for (;;) {
    let t2 = null;
    (await pc.getStats()).forEach((x) => { if (x.type === 'transport') t2 = x; });
    note(`after restart: ${t2 && t2.iceLocalUsernameFragment} ${t2 && t2.iceState}`);
    if (t2 && t2.iceLocalUsernameFragment === localUfrag && t2.iceState === 'connected') break;
    if (performance.now() > deadline) throw new Error('ICE restart: not connected on the new credentials');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { status: res.status, etag: res.headers.get('ETag'), candidates: cands.length };
}

// Something that changes every frame, so the encoder always has work and the
// decoder always has frames: a moving bar over a colour that drifts.
function canvasTrack() {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  document.body.appendChild(canvas);
  const g = canvas.getContext('2d');
  let n = 0;
  const draw = () => {
    n++;
    g.fillStyle = `hsl(${(n * 3) % 360}, 60%, 40%)`;
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = '#fff';
    g.fillRect((n * 7) % canvas.width, 0, 40, canvas.height);
    g.font = '48px sans-serif';
    g.fillText(`frame ${n}`, 20, 200);
  };
  draw();
  // A timer, not requestAnimationFrame: a headless page that is not in front
  // may get no animation frames.
  animation = setInterval(draw, 33);
  return canvas.captureStream(30).getVideoTracks()[0];
}

function oscillatorTrack() {
  audioContext = new AudioContext();
  const osc = audioContext.createOscillator();
  osc.frequency.value = 440;
  const dest = audioContext.createMediaStreamDestination();
  osc.connect(dest);
  osc.start();
  return dest.stream.getAudioTracks()[0];
}

// Puts the named codec first and keeps only it (with its rtx), so the
// publisher cannot pick another.
function preferCodec(transceiver, kind, mimeType) {
  const caps = RTCRtpSender.getCapabilities(kind).codecs;
  const chosen = caps.filter((c) => c.mimeType.toLowerCase() === mimeType.toLowerCase() &&
    (!/vp9/i.test(mimeType) || !c.sdpFmtpLine || /profile-id=0/.test(c.sdpFmtpLine)));
  if (chosen.length === 0) throw new Error(`${mimeType} not supported by this browser`);
  const rtx = caps.filter((c) => /rtx/i.test(c.mimeType));
  transceiver.setCodecPreferences([...chosen, ...rtx]);
}

// An SCTP data channel, as a console with a chat would have: the offer gets
// an m=application section (Chromium puts it after the media), which the
// relay does not do and must reject while it accepts the media.
function chatChannel() {
  pc.createDataChannel('chat');
}

// The fake 1280x720 monitor Chromium offers with --use-fake-ui-for-media-stream
// and --use-fake-device-for-media-stream (no picker), as a customer's shared
// screen would come.
async function displayTrack() {
  const s = await Promise.race([
    navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 30 }, audio: false }),
    timeout(GATHER_TIMEOUT_MS, 'getDisplayMedia'),
  ]);
  return s.getVideoTracks()[0];
}

// audioFirst: the audio m-line comes first, so it is the one the offerer
// tags for BUNDLE and the relay must put its transport (candidates) there.
async function publish({ url, token, codec, audio, audioFirst, source, dtlsServer, trickle,
  dataChannel }) {
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  if (dataChannel) chatChannel();
  const stream = new MediaStream();
  const video = source === 'display' ? await displayTrack() : canvasTrack();
  note(`video source ${source || 'canvas'}: ${JSON.stringify(video.getSettings())}`);
  const addAudio = () => {
    const track = oscillatorTrack();
    stream.addTrack(track);
    pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  };
  if (audio && audioFirst) addAudio();
  stream.addTrack(video);
  const vt = pc.addTransceiver(video, { direction: 'sendonly', streams: [stream] });
  preferCodec(vt, 'video', `video/${codec}`);
  if (audio && !audioFirst) addAudio();
  return exchange(url, token, { dtlsServer, trickle });
}

async function subscribe({ url, token, audio, audioFirst, dtlsServer, trickle, dataChannel }) {
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  if (dataChannel) chatChannel();
  if (audio && audioFirst) pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  if (audio && !audioFirst) pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addEventListener('track', (ev) => {
    note(`track ${ev.track.kind}`);
    // Played as a rep console would: audio is only decoded while something
    // pulls it out (totalSamplesReceived stays 0 otherwise).
    const el = document.createElement(ev.track.kind);
    el.autoplay = true;
    el.srcObject = new MediaStream([ev.track]);
    document.body.appendChild(el);
  });
  return exchange(url, token, { dtlsServer, trickle });
}

// The getStats figures the test reads, flattened per kind.
async function stats() {
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  const out = { connectionState: pc.connectionState, outbound: {}, inbound: {}, transport: null };
  const codecOf = (s) => (s.codecId && byId.get(s.codecId) ? byId.get(s.codecId).mimeType : null);
  report.forEach((s) => {
    if (s.type === 'outbound-rtp') {
      out.outbound[s.kind] = {
        packetsSent: s.packetsSent, bytesSent: s.bytesSent, framesEncoded: s.framesEncoded,
        keyFramesEncoded: s.keyFramesEncoded, codec: codecOf(s), pliCount: s.pliCount,
        nackCount: s.nackCount, encoderImplementation: s.encoderImplementation,
      };
    } else if (s.type === 'inbound-rtp') {
      out.inbound[s.kind] = {
        packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, bytesReceived: s.bytesReceived,
        framesDecoded: s.framesDecoded, keyFramesDecoded: s.keyFramesDecoded,
        frameWidth: s.frameWidth, frameHeight: s.frameHeight, codec: codecOf(s),
        totalSamplesReceived: s.totalSamplesReceived, concealedSamples: s.concealedSamples,
        nackCount: s.nackCount, pliCount: s.pliCount, decoderImplementation: s.decoderImplementation,
      };
    } else if (s.type === 'transport') {
      out.transport = {
        dtlsState: s.dtlsState, srtpCipher: s.srtpCipher, tlsVersion: s.tlsVersion,
        dtlsRole: s.dtlsRole, iceState: s.iceState,
      };
    }
  });
  return out;
}

async function close() {
  if (animation) clearInterval(animation);
  if (audioContext) await audioContext.close();
  let status = null;
  if (resourceUrl) {
    const res = await fetch(resourceUrl, {
      method: 'DELETE', headers: { Authorization: `Bearer ${bearer}` },
    });
    status = res.status;
  }
  if (pc) pc.close();
  return status;
}

window.tandem = { publish, subscribe, restartIce, stats, close, log };
