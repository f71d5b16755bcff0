// One capture screen (face or fingers): live camera with a guide, preview frames sent to the
// quality check at most twice a second, "Capture" enabled only when the gates pass, and a
// file input (capture="environment") wherever the camera is refused.

import * as api from "./api.js";
import { Camera, downscale } from "./camera.js";
import { $, clearError, nextStep, showError } from "./dom.js";

// Long side of a preview frame: a face needs little; a fingertip's ridges show only when it is
// ~100 px wide or more, which in a 480 px frame it rarely is (finger/preview.py).
const PREVIEW_SIDE = { face: 480, finger: 960 };
const PREVIEW_INTERVAL_MS = 500; // at most 2 preview frames a second
const CAPTURE_SIDE = 2400; // fingertips need the full resolution; faces are downscaled server-side

// "move closer", ["too dark", "face the camera"] -> "Move closer." / "Too dark; face the camera."
function adviceText(advice) {
  const text = [].concat(advice || []).join("; ");
  return text ? `${text[0].toUpperCase()}${text.slice(1)}.` : "";
}

export class CaptureScreen {
  constructor(prefix, modality, { onSearch, onUnauthorized }) {
    this.modality = modality;
    this.onSearch = onSearch;
    this.onUnauthorized = onUnauthorized;
    this.ids = (name) => $(`${prefix}-${name}`);
    this.section = $(`screen-${prefix === "face" ? "face" : "fingers"}`);
    this.camera = new Camera(this.ids("video"));
    this.advice = this.ids("advice");
    this.captureButton = this.ids("capture");
    this.probe = null;
    this.probeUrl = null;
    this.loopTimer = null;
    this.loopId = 0;
    this.active = false;
    this.attempt = 0;
    this.captureButton.addEventListener("click", () => this.capture());
    this.ids("switch").addEventListener("click", () => this.switchCamera());
    this.ids("retake").addEventListener("click", () => this.retake());
    this.ids("search").addEventListener("click", () => this.search());
    this.ids("file").addEventListener("change", (e) => this.chooseFile(e.target));
  }

  async open() {
    this.active = true;
    if (this.probe) {
      this.showProbe();
      return;
    }
    await this.startLive();
  }

  close() {
    this.active = false;
    this.attempt += 1;
    this.stopLoop();
    this.camera.stop();
  }

  reset() {
    this.close();
    this.dropProbe();
  }

  liveParts(visible) {
    for (const part of this.section.querySelectorAll("[data-live]")) part.hidden = !visible;
  }

  async startLive() {
    // Leaving and re-entering the screen quickly starts the camera twice: only the latest
    // start may change the screen.
    const attempt = ++this.attempt;
    this.liveParts(true);
    this.ids("probe").hidden = true;
    this.captureButton.disabled = true;
    this.advice.classList.remove("ok");
    this.say("Starting the camera…");
    let playing;
    try {
      playing = await this.camera.start();
    } catch (err) {
      if (attempt !== this.attempt) return;
      this.liveParts(false);
      this.say(
        `The camera is not available (${err.message || err.name}). ` +
          "Use “Take or choose a photo instead” below.",
      );
      return;
    }
    if (!playing || attempt !== this.attempt || !this.active) return;
    await this.afterStart();
    this.say("Checking the picture…");
    this.loop();
  }

  // Fingers override this to switch the torch on.
  async afterStart() {}

  async switchCamera() {
    this.stopLoop();
    try {
      await this.camera.switchFacing();
      await this.afterStart();
    } catch (err) {
      this.say(`Could not switch the camera (${err.message}).`);
    }
    this.loop();
  }

  stopLoop() {
    this.loopId += 1; // a check still in flight finds its loop ended and schedules nothing
    clearTimeout(this.loopTimer);
  }

  loop() {
    this.stopLoop();
    const id = this.loopId;
    const running = () => id === this.loopId && this.active && this.camera.running;
    const tick = async () => {
      if (!running()) return;
      const started = performance.now();
      let wait = PREVIEW_INTERVAL_MS;
      const frame = await this.camera.frame(PREVIEW_SIDE[this.modality], 0.7);
      if (frame && running()) wait = Math.max(wait, await this.check(frame));
      if (!running()) return;
      const spent = performance.now() - started;
      this.loopTimer = setTimeout(tick, Math.max(0, wait - spent));
    };
    this.loopTimer = setTimeout(tick, 0);
  }

  // Ask the server about one frame; returns how long to wait before the next one (ms).
  async check(blob) {
    try {
      const answer = await api.quality(blob, this.modality);
      if (!this.active || this.probe) return PREVIEW_INTERVAL_MS;
      if (this.modality === "finger" && !("fingertips_seen" in answer)) {
        // This service checks faces only: its advice would be about faces, so stop asking.
        this.stopLoop();
        this.captureButton.disabled = false;
        this.say("Hold the fingers inside the guide, in good light; the photo is checked when you search.");
        return 0;
      }
      const advice = adviceText(answer.advice);
      this.captureButton.disabled = !answer.ok;
      this.say(answer.ok ? advice || "Good: hold still and press Capture." : advice || "Adjust the picture.");
      this.advice.classList.toggle("ok", Boolean(answer.ok));
      return PREVIEW_INTERVAL_MS;
    } catch (err) {
      if (err.status === 401) {
        this.onUnauthorized(err);
        return PREVIEW_INTERVAL_MS;
      }
      this.captureButton.disabled = true;
      this.advice.classList.remove("ok");
      this.say(nextStep(err));
      return err.status === 503 ? 1000 * (Number(err.retryAfter) || 2) : PREVIEW_INTERVAL_MS;
    }
  }

  say(text) {
    if (this.advice.textContent !== text) this.advice.textContent = text;
  }

  async capture() {
    const blob = await this.camera.frame(CAPTURE_SIDE, 0.92);
    if (!blob) return;
    this.setProbe(blob);
  }

  async chooseFile(input) {
    const file = input.files && input.files[0];
    input.value = "";
    if (!file) return;
    this.setProbe(file);
    try {
      // the check wants a preview-sized frame, not the camera app's full photo
      const frame = (await downscale(file, PREVIEW_SIDE[this.modality])) || file;
      const answer = await api.quality(frame, this.modality);
      this.say(adviceText(answer.advice) || (answer.ok ? "Good photo." : ""));
    } catch (err) {
      this.say(nextStep(err));
    }
  }

  setProbe(blob) {
    this.dropProbe();
    this.probe = blob;
    this.probeUrl = URL.createObjectURL(blob);
    this.stopLoop();
    this.camera.stop();
    this.showProbe();
  }

  showProbe() {
    this.liveParts(false);
    this.ids("probe-img").src = this.probeUrl;
    this.ids("probe").hidden = false;
    this.ids("search").disabled = false;
  }

  dropProbe() {
    if (this.probeUrl) URL.revokeObjectURL(this.probeUrl);
    this.probe = null;
    this.probeUrl = null;
    this.ids("probe").hidden = true;
    this.ids("probe-img").removeAttribute("src");
  }

  async retake() {
    this.dropProbe();
    clearError();
    await this.startLive();
  }

  async search() {
    const button = this.ids("search");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    clearError();
    try {
      await this.onSearch(this.probe, this.probeUrl);
    } catch (err) {
      if (err.status === 401) this.onUnauthorized(err);
      else showError(err);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

export class FingerCaptureScreen extends CaptureScreen {
  constructor(handlers) {
    super("finger", "finger", handlers);
    this.torchButton = $("finger-torch");
    this.torchButton.addEventListener("click", () => this.toggleTorch());
    for (const radio of document.querySelectorAll("input[name=finger-guide]")) {
      radio.addEventListener("change", () => {
        const guide = $("finger-guide");
        guide.classList.toggle("four", radio.value === "four" && radio.checked);
        guide.classList.toggle("tip", radio.value === "tip" && radio.checked);
      });
    }
  }

  async afterStart() {
    const torch = this.camera.hasTorch();
    this.torchButton.hidden = !torch;
    if (torch) await this.setTorch(true); // ridges need light; the browser allows it here
  }

  async setTorch(on) {
    try {
      await this.camera.torch(on);
      this.torchButton.setAttribute("aria-pressed", String(on));
    } catch {
      this.torchButton.hidden = true;
    }
  }

  toggleTorch() {
    return this.setTorch(this.torchButton.getAttribute("aria-pressed") !== "true");
  }
}
