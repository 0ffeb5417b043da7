import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * A small test camera for Chromium: a 320×240, 15 fps Y4M clip (a moving gradient and a
 * moving square, two seconds, looped). Chromium's own fake camera sends 640×480 at 30
 * fps; two pages encoding and decoding that in software take most of a 2-core CI machine
 * and slow the very timers the tests measure. Made once per machine, in the temp folder.
 * The narrow-link test, which needs a sender that wants more than the link, and the
 * camera-switch test, which needs several cameras, use Chromium's own instead.
 */
export function smallFakeCamera(): string {
  const file = path.join(os.tmpdir(), "homecall-fake-camera-320x240-15fps-v1.y4m");
  if (fs.existsSync(file)) return file;
  const width = 320;
  const height = 240;
  const frames = 30;
  const chunks: Buffer[] = [Buffer.from(`YUV4MPEG2 W${width} H${height} F15:1 Ip A1:1 C420jpeg\n`)];
  for (let f = 0; f < frames; f++) {
    const y = Buffer.alloc(width * height);
    const box = { x: (f * 9) % (width - 60), y: 90 };
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        const inBox = col >= box.x && col < box.x + 60 && row >= box.y && row < box.y + 60;
        y[row * width + col] = inBox ? 235 : (col + row + f * 8) & 0xff;
      }
    }
    const u = Buffer.alloc((width / 2) * (height / 2), 96 + f * 2);
    const v = Buffer.alloc((width / 2) * (height / 2), 160 - f * 2);
    chunks.push(Buffer.from("FRAME\n"), y, u, v);
  }
  const partial = `${file}.${process.pid}`;
  fs.writeFileSync(partial, Buffer.concat(chunks));
  fs.renameSync(partial, file);
  return file;
}

/** Chromium's arguments with its own fake camera in place of the small one. */
export function withChromiumsOwnCamera(args: string[]): string[] {
  return args.filter((a) => !a.startsWith("--use-file-for-fake-video-capture"));
}
