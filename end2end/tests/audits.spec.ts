// Accessibility audits (issue #14). axe-core, with the WCAG 2.x A and AA rules, finds no
// violation on the home, share-link, call and end views, in Russian and English, in the
// light and the dark colour scheme; and every control of each view is reached by Tab
// alone, shows a focus ring that is thick enough and contrasts, and works by Enter or
// Space. Lighthouse's audits are end2end/audits/lighthouse.mjs (scripts/lighthouse.sh).
import { test, expect, Browser, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { closeOpened, expectRemoteVideoFlowing, newContext, openHydrated, printPageLog } from "./helpers";

test.afterEach(closeOpened);

/** axe's rules for WCAG 2.0, 2.1 and 2.2 at levels A and AA. */
const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/** The least focus ring: its width in CSS pixels, its contrast with what surrounds it. */
const RING_MIN_WIDTH = 2;
const RING_MIN_CONTRAST = 3;

/** The words the tests press and look for, per browser locale. */
const WORDS = {
  "ru-RU": {
    call: "Позвонить",
    startCall: "Начать звонок",
    copy: "Копировать",
    copied: "Скопировано ✓",
    cancel: "Отмена",
    dismiss: "Закрыть",
    hangUp: "Завершить",
    ended: "Звонок завершён",
    callAgain: "Позвонить снова",
    close: "Закрыть",
    badLink: "Неверная ссылка на звонок",
    // The toggles' names start with what they show (WCAG 2.5.3), then say what they do.
    micOn: "Микрофон — выключить (M)",
    micOff: "Микрофон выкл. — включить (M)",
    camOn: "Камера — выключить (V)",
    camOff: "Камера выкл. — включить (V)",
  },
  "en-US": {
    call: "Call",
    startCall: "Start call",
    copy: "Copy",
    copied: "Copied ✓",
    cancel: "Cancel",
    dismiss: "Close",
    hangUp: "Hang up",
    ended: "Call ended",
    callAgain: "Call again",
    close: "Close",
    badLink: "Invalid call link",
    micOn: "Microphone — turn off (M)",
    micOff: "Mic off — turn on (M)",
    camOn: "Camera — turn off (V)",
    camOff: "Camera off — turn on (V)",
  },
};
type Locale = keyof typeof WORDS;

/** A phone's screen (CSS pixels), where controls and notices are closest together. */
const PHONE = { width: 390, height: 760 };

/** A person in a browser context of their own, speaking `locale`, on a hydrated page. */
async function personIn(browser: Browser, locale: Locale, url: string, viewport = PHONE): Promise<Page> {
  const context = await newContext(browser, { locale, viewport });
  const page = await context.newPage();
  printPageLog(page);
  await openHydrated(page, url);
  return page;
}

/** One line per violation: rule, impact, where, and what axe says about it. */
function describeViolations(violations: Awaited<ReturnType<AxeBuilder["analyze"]>>["violations"]): string[] {
  return violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")}: ${n.failureSummary?.replace(/\s+/g, " ") ?? v.help}`),
  );
}

/**
 * axe finds no WCAG A/AA violation in the page as it is now, in light and dark. Soft, so
 * that one run lists every view's findings. (Each run takes axe 0.6 to 2 s: the views
 * are checked in the states that show the most.)
 */
async function expectNoViolations(page: Page, view: string): Promise<void> {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
    expect.soft(describeViolations(results.violations), `axe violations on the ${view} view (${colorScheme})`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: null });
}

for (const locale of Object.keys(WORDS) as Locale[]) {
  test(`axe finds no WCAG violation on the home, share-link, call and end views (${locale})`, async ({ browser }) => {
    const w = WORDS[locale];
    const host = await personIn(browser, locale, "/");
    await expectNoViolations(host, "home");

    await host.getByRole("button", { name: w.call, exact: true }).click();
    await expect(host.getByRole("button", { name: w.startCall })).toBeVisible();
    await expectNoViolations(host, "share-link");
    const link = await host.locator("textarea.link").first().inputValue();

    // Copying the link starts the call: the button confirms it.
    await host.getByRole("button", { name: w.copy }).click();
    await expect(host.getByRole("button", { name: w.copied })).toBeVisible();
    await expect(host.locator("section.call")).toBeVisible();
    await expectNoViolations(host, "call (waiting for the other person, link copied)");

    const guest = await personIn(browser, locale, link);
    await expectRemoteVideoFlowing(guest);
    await expectRemoteVideoFlowing(host);
    await expect(host.locator("section.call")).toHaveAttribute("data-phase", "in-call");
    await expectNoViolations(host, "call (in call)");
    await guest.getByRole("button", { name: w.micOn, exact: true }).click();
    await guest.getByRole("button", { name: w.camOn, exact: true }).click();
    await expect(guest.getByRole("button", { name: w.camOff, exact: true })).toBeVisible();
    await expectNoViolations(guest, "call (guest, microphone and camera off)");

    await host.getByRole("button", { name: w.hangUp }).click();
    await expect(host.getByRole("heading", { name: w.ended })).toBeVisible();
    await expect(guest.getByRole("heading", { name: w.ended })).toBeVisible();
    await expectNoViolations(guest, "end (the other person hung up)");

    await host.goto("/?session=not-a-call");
    await expect(host.getByRole("heading", { name: w.badLink })).toBeVisible();
    await expectNoViolations(host, "end (bad link)");
  });
}

/** What the page says about its focused element. */
interface Focused {
  /** The index `markControls` gave it, or -1 for anything else (the body, a non-control). */
  index: number;
  name: string;
  focusVisible: boolean;
  /** Not hidden under other content (WCAG 2.4.11, and stricter): its middle is on top. */
  shown: boolean;
  ringWidth: number;
  ringContrast: number;
}

/** Marks the view's visible, enabled controls with an index; their names and tags. */
async function markControls(page: Page): Promise<{ name: string; tag: string }[]> {
  return page.evaluate(() => {
    const selector = "button, input, select, textarea, a[href], [tabindex]:not([tabindex='-1']), [onclick], [role='button']";
    const controls = [...document.querySelectorAll<HTMLElement>(selector)].filter(
      (el) => el.checkVisibility({ visibilityProperty: true }) && !(el as HTMLButtonElement).disabled,
    );
    document.querySelectorAll("[data-audit-control]").forEach((el) => el.removeAttribute("data-audit-control"));
    return controls.map((el, i) => {
      el.setAttribute("data-audit-control", String(i));
      return { name: el.getAttribute("aria-label") ?? el.textContent?.trim() ?? "", tag: el.tagName.toLowerCase() };
    });
  });
}

/**
 * In the page: the focused element, whether its middle is on top (not covered by a
 * notice, say), and its focus ring: the thicker of its outline and its box-shadow's
 * spread, and that colour's contrast with the first opaque background behind the element
 * (what the ring is drawn on).
 */
function describeFocus(): Focused {
  type Rgba = [number, number, number, number];
  const parse = (css: string): Rgba | undefined => {
    const m = css.match(/rgba?\(([^)]+)\)/);
    if (!m) return undefined;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [r, g, b, a];
  };
  const over = (top: Rgba, under: Rgba): Rgba => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat(1) as Rgba;
  const luminance = (c: Rgba) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a: Rgba, b: Rgba) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const backgroundBehind = (el: Element): Rgba => {
    for (let at = el.parentElement; at; at = at.parentElement) {
      const bg = parse(getComputedStyle(at).backgroundColor);
      if (bg && bg[3] > 0) return bg[3] === 1 ? bg : over(bg, backgroundBehind(at));
    }
    return matchMedia("(prefers-color-scheme: dark)").matches ? [0, 0, 0, 1] : [255, 255, 255, 1];
  };
  const el = document.activeElement as HTMLElement | null;
  if (!el || el === document.body) return { index: -1, name: "(body)", focusVisible: false, shown: false, ringWidth: 0, ringContrast: 0 };
  const box = el.getBoundingClientRect();
  const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  const shown = top !== null && el.contains(top);
  const style = getComputedStyle(el);
  const outline = style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth);
  // A box-shadow ring: "rgb(…) 0px 0px 0px 3px", its fourth length the spread.
  const shadow = style.boxShadow === "none" ? undefined : style.boxShadow;
  const spread = shadow ? parseFloat((shadow.replace(/rgba?\([^)]*\)/, "").match(/-?[\d.]+px/g) ?? [])[3] ?? "0") : 0;
  const ringColor = parse(outline >= spread ? style.outlineColor : (shadow ?? ""));
  const behind = backgroundBehind(el);
  return {
    index: Number(el.getAttribute("data-audit-control") ?? -1),
    name: el.getAttribute("aria-label") ?? el.textContent?.trim() ?? el.tagName,
    focusVisible: el.matches(":focus-visible"),
    shown,
    ringWidth: Math.max(outline, spread),
    ringContrast: ringColor ? contrast(over(ringColor, behind), behind) : 0,
  };
}

/** The focused element's description after one press of Tab. */
async function tab(page: Page): Promise<Focused> {
  await page.keyboard.press("Tab");
  return page.evaluate(describeFocus);
}

/**
 * Tab alone reaches every visible control of the view (each a native control, so Enter
 * or Space works it), none is hidden under other content when focused, and each shows a
 * focus ring of at least RING_MIN_WIDTH px whose
 * colour contrasts RING_MIN_CONTRAST:1 with what is around it.
 */
async function expectKeyboardReachesAll(page: Page, view: string): Promise<void> {
  const controls = await markControls(page);
  expect(controls.length, `${view}: controls to reach`).toBeGreaterThan(0);
  for (const c of controls) expect(["button", "input", "a", "select", "textarea"], `${view}: «${c.name}» is a native control`).toContain(c.tag);
  const reached = new Map<number, Focused>();
  for (let presses = 0; presses < controls.length * 3 + 4 && reached.size < controls.length; presses++) {
    const focused = await tab(page);
    if (focused.index >= 0) reached.set(focused.index, focused);
  }
  const missed = controls.filter((_, i) => !reached.has(i)).map((c) => c.name);
  expect(missed, `${view}: controls Tab never reached`).toEqual([]);
  for (const f of reached.values()) {
    expect.soft(f.focusVisible, `${view}: «${f.name}» matches :focus-visible`).toBe(true);
    expect.soft(f.shown, `${view}: «${f.name}» is not hidden under other content when focused`).toBe(true);
    expect.soft(f.ringWidth, `${view}: «${f.name}» focus ring width (px)`).toBeGreaterThanOrEqual(RING_MIN_WIDTH);
    expect.soft(f.ringContrast, `${view}: «${f.name}» focus ring contrast`).toBeGreaterThanOrEqual(RING_MIN_CONTRAST);
  }
}

/** Presses Tab until the control named `name` has the focus (at most a few rounds). */
async function tabTo(page: Page, name: string): Promise<void> {
  const target = page.getByRole("button", { name, exact: true });
  await expect(target).toBeVisible();
  for (let presses = 0; presses < 40; presses++) {
    await page.keyboard.press("Tab");
    if (await target.evaluate((el) => el === document.activeElement)) return;
  }
  throw new Error(`Tab never reached «${name}»`);
}

test("every control of every view is reached by Tab, shows a focus ring and works by Enter or Space", async ({ browser }) => {
  const w = WORDS["ru-RU"];
  const host = await personIn(browser, "ru-RU", "/");
  await expectKeyboardReachesAll(host, "home");
  await tabTo(host, w.call);
  await host.keyboard.press("Enter");
  await expect(host.getByRole("button", { name: w.startCall })).toBeVisible();

  await expectKeyboardReachesAll(host, "share-link");
  await tabTo(host, w.cancel);
  await host.keyboard.press("Space");
  await expect(host.getByRole("button", { name: w.call, exact: true })).toBeVisible();
  await tabTo(host, w.call);
  await host.keyboard.press("Space");
  await tabTo(host, w.startCall);
  await host.keyboard.press("Enter");
  await expect(host.locator("section.call")).toBeVisible();
  await host.getByRole("button", { name: w.hangUp }).click();
  await tabTo(host, w.callAgain);
  await host.keyboard.press("Enter");
  const link = await host.locator("textarea.link").first().inputValue();
  // Copying the link is enough: the button confirms it, and the host starts waiting.
  await tabTo(host, w.copy);
  await host.keyboard.press("Space");
  await expect(host.getByRole("button", { name: w.copied })).toBeVisible();
  await expect(host.locator("section.call")).toBeVisible();
  await expectKeyboardReachesAll(host, "call (waiting for the other person)");
  await host.keyboard.press("Escape");
  await expect(host.getByRole("alert")).toBeVisible();
  await host.keyboard.press("Escape");
  await expect(host.getByRole("heading", { name: w.ended })).toBeVisible();
  await tabTo(host, w.callAgain);
  await host.keyboard.press("Enter");
  const second = await host.locator("textarea.link").first().inputValue();
  await tabTo(host, w.startCall);
  await host.keyboard.press("Enter");
  await expect(host.locator("section.call")).toBeVisible();
  // A notice (the first Esc asks) is closed from the keyboard.
  await host.keyboard.press("Escape");
  await tabTo(host, w.dismiss);
  await host.keyboard.press("Enter");
  await expect(host.getByRole("alert")).toHaveCount(0);
  expect(second).not.toBe(link);

  const guest = await personIn(browser, "ru-RU", second);
  await expectRemoteVideoFlowing(guest);
  await expectKeyboardReachesAll(guest, "call (guest, in call)");
  await tabTo(guest, w.micOn);
  await guest.keyboard.press("Space");
  await expect(guest.getByRole("button", { name: w.micOff, exact: true })).toBeFocused();
  await guest.keyboard.press("Enter");
  await expect(guest.getByRole("button", { name: w.micOn, exact: true })).toBeFocused();
  await tabTo(guest, w.camOn);
  await guest.keyboard.press("Enter");
  await expect(guest.getByRole("button", { name: w.camOff, exact: true })).toBeFocused();
  await guest.keyboard.press("Space");
  await expect(guest.getByRole("button", { name: w.camOn, exact: true })).toBeFocused();
  await expectRemoteVideoFlowing(host);
  await expectKeyboardReachesAll(host, "call (host, in call)");
  await tabTo(host, w.hangUp);
  await host.keyboard.press("Enter");
  await expect(host.getByRole("heading", { name: w.ended })).toBeVisible();
  await expect(guest.getByRole("heading", { name: w.ended })).toBeVisible();

  await expectKeyboardReachesAll(guest, "end");
  await expectKeyboardReachesAll(host, "end (host)");
  await tabTo(host, w.callAgain);
  await host.keyboard.press("Space");
  await expect(host.getByRole("button", { name: w.startCall })).toBeVisible();
  await tabTo(guest, w.close);
  await guest.keyboard.press("Enter");
  await expect(guest.getByRole("button", { name: w.call, exact: true })).toBeVisible();
});
