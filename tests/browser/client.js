// The browser side of the WHIP/WHEP test: what a rep console would do with
// a plain RTCPeerConnection and fetch, nothing else. The test (browser_test.mjs)
// loads page.html, which loads this file, and calls window.tandem.* through
// page.evaluate.
//
//   publish({url, token, codec, audio})   canvas (+ oscillator) over WHIP
//   subscribe({url, token})                recvonly video (+ audio) over WHEP
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
async function exchange(url, token) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const offer = pc.localDescription.sdp;
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
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  await connected(pc);
  return { offer, answer: body };
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

async function publish({ url, token, codec, audio }) {
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  const stream = new MediaStream();
  const video = canvasTrack();
  stream.addTrack(video);
  const vt = pc.addTransceiver(video, { direction: 'sendonly', streams: [stream] });
  preferCodec(vt, 'video', `video/${codec}`);
  if (audio) {
    const track = oscillatorTrack();
    stream.addTrack(track);
    pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  }
  return exchange(url, token);
}

async function subscribe({ url, token, audio }) {
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  if (audio) pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addEventListener('track', (ev) => {
    note(`track ${ev.track.kind}`);
    // Rendering it is what a rep console does; decoding happens either way.
    if (ev.track.kind === 'video') {
      const v = document.createElement('video');
      v.muted = true;
      v.autoplay = true;
      v.srcObject = new MediaStream([ev.track]);
      document.body.appendChild(v);
    }
  });
  return exchange(url, token);
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

window.tandem = { publish, subscribe, stats, close, log };
