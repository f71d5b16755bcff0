// The live camera: rear camera first, switchable, frames grabbed into JPEG blobs, the torch
// where the browser exposes it (Chrome on Android does; most others do not).

export class Camera {
  constructor(video) {
    this.video = video;
    this.stream = null;
    this.facing = "environment";
    this.ticket = 0; // bumped by every stop(): a start that was overtaken gives up its stream
  }

  get running() {
    return this.stream !== null;
  }

  // Resolves true once the video plays, false when a later stop() or start() overtook it.
  async start() {
    this.stop();
    const ticket = this.ticket;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this browser gives no camera to this page (it needs HTTPS)");
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: {
        facingMode: { ideal: this.facing },
        width: { ideal: 1920 },
        height: { ideal: 1080 },
      },
    });
    if (ticket !== this.ticket) {
      for (const track of stream.getTracks()) track.stop();
      return false;
    }
    this.stream = stream;
    this.video.srcObject = stream;
    try {
      await this.video.play();
    } catch (err) {
      if (ticket !== this.ticket) return false; // play() interrupted by a stop(): expected
      throw err;
    }
    return ticket === this.ticket;
  }

  stop() {
    this.ticket += 1;
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
    }
    this.stream = null;
    this.video.srcObject = null;
  }

  switchFacing() {
    this.facing = this.facing === "environment" ? "user" : "environment";
    return this.start();
  }

  // A JPEG of the current frame, its long side at most maxSide pixels.
  frame(maxSide, quality) {
    const w = this.video.videoWidth;
    const h = this.video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    const scale = Math.min(1, maxSide / Math.max(w, h));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(this.video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  }

  get track() {
    return this.stream ? this.stream.getVideoTracks()[0] : null;
  }

  hasTorch() {
    const track = this.track;
    if (!track || typeof track.getCapabilities !== "function") return false;
    return Boolean(track.getCapabilities().torch);
  }

  async torch(on) {
    if (!this.hasTorch()) return false;
    await this.track.applyConstraints({ advanced: [{ torch: on }] });
    return true;
  }
}

// A JPEG of an image file, its long side at most maxSide pixels (null where the browser
// cannot decode it here: the server then judges the file as it is).
export async function downscale(file, maxSide, quality = 0.8) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return null;
  }
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}
