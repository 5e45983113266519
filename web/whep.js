// Tandem web pages: watching a session's screen over WHEP (the relay's
// subscribe endpoint), the same exchange as tests/browser/client.js: one
// POST of a complete offer (every candidate gathered first) with the
// subscribe token as bearer, the answer applied, DELETE on leave.
//
//   const viewer = new TandemWhep({ url, token, video, onState });
//   await viewer.start();          resolves once ICE + DTLS are connected
//   await viewer.stats();          { framesDecoded, frameWidth, ... }
//   await viewer.stop();           DELETE the resource, close the connection
//
// onState(text) tells the page what happens ('connecting', 'connected',
// 'disconnected', 'failed', 'closed'), so it can show a lost connection.
'use strict';

(function () {
  const GATHER_TIMEOUT_MS = 5000;
  const CONNECT_TIMEOUT_MS = 15000;
  const DELETE_TIMEOUT_MS = 1000;

  function timeout(ms, what) {
    return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms));
  }

  class TandemWhep {
    constructor({ url, token, video, iceServers, onState }) {
      this.url = url;
      this.token = token;
      this.video = video;
      this.iceServers = iceServers || [];
      this.onState = onState || (() => {});
      this.pc = null;
      this.resourceUrl = null;
      this.stream = new MediaStream();
      this.audio = null;
    }

    async gathered() {
      const pc = this.pc;
      if (pc.iceGatheringState === 'complete') return;
      // A host whose candidates all came already but that never reports
      // 'complete' still gets its offer out after the bound: send what we have.
      await Promise.race([
        new Promise((resolve) => {
          pc.addEventListener('icegatheringstatechange', () => {
            if (pc.iceGatheringState === 'complete') resolve();
          });
        }),
        new Promise((resolve) => setTimeout(resolve, GATHER_TIMEOUT_MS)),
      ]);
    }

    async connected() {
      const pc = this.pc;
      if (pc.connectionState === 'connected') return;
      await Promise.race([
        new Promise((resolve, reject) => {
          pc.addEventListener('connectionstatechange', () => {
            if (pc.connectionState === 'connected') resolve();
            if (pc.connectionState === 'failed') reject(new Error('the media connection failed'));
          });
        }),
        timeout(CONNECT_TIMEOUT_MS, 'media connection to the relay'),
      ]);
    }

    async start() {
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: this.iceServers });
      this.pc = pc;
      this.onState('connecting');
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addEventListener('track', (ev) => {
        if (ev.track.kind === 'audio') {
          // The video element stays muted (so it may always autoplay); the
          // customer's voice plays from an element of its own.
          this.audio = new Audio();
          this.audio.autoplay = true;
          this.audio.srcObject = new MediaStream([ev.track]);
          this.audio.play().catch(() => {});
          return;
        }
        this.stream.addTrack(ev.track);
        if (this.video && this.video.srcObject !== this.stream) this.video.srcObject = this.stream;
        if (this.video) this.video.play().catch(() => {});
      });
      pc.addEventListener('connectionstatechange', () => this.onState(pc.connectionState));
      await pc.setLocalDescription(await pc.createOffer());
      await this.gathered();
      const offer = pc.localDescription.sdp;
      let res;
      try {
        res = await fetch(this.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${this.token}` },
          body: offer,
        });
      } catch (e) {
        throw new Error(`cannot reach the relay at ${this.url}: ${e.message}`);
      }
      const body = await res.text();
      if (res.status !== 201) throw new Error(`the relay refused to stream (${res.status}): ${body.trim()}`);
      const location = res.headers.get('Location');
      if (!location) throw new Error('the relay answered without a resource (no Location)');
      this.resourceUrl = new URL(location, this.url).href;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      await this.connected();
    }

    // The inbound video figures (getStats), and the connection state.
    async stats() {
      const out = { connectionState: this.pc ? this.pc.connectionState : 'new', framesDecoded: 0 };
      if (!this.pc) return out;
      const report = await this.pc.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          out.framesDecoded = s.framesDecoded || 0;
          out.frameWidth = s.frameWidth;
          out.frameHeight = s.frameHeight;
          out.packetsReceived = s.packetsReceived;
          out.packetsLost = s.packetsLost;
        }
      });
      return out;
    }

    async stop() {
      const pc = this.pc;
      const url = this.resourceUrl;
      this.pc = null;
      this.resourceUrl = null;
      let status = null;
      if (url) {
        // Bounded: after a relay failover the old relay may not answer at
        // all, and the new subscription must not wait on it.
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), DELETE_TIMEOUT_MS);
        try {
          const res = await fetch(url, {
            method: 'DELETE', headers: { Authorization: `Bearer ${this.token}` }, signal: abort.signal,
          });
          status = res.status;
        } catch { /* the relay is gone: nothing to delete */ }
        clearTimeout(timer);
      }
      if (pc) pc.close();
      if (this.audio) this.audio.srcObject = null;
      this.audio = null;
      this.onState('closed');
      return status;
    }
  }

  window.TandemWhep = TandemWhep;
})();
