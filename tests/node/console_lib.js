// What the console's browser tests share (console_check.js, console_demo.js): checks counted
// and printed, polling, JSON/text GETs, Chromium (playwright-core driving Debian's
// /usr/bin/chromium) with a throw-away profile, a page watched for errors and for requests that
// leave the listener's origin, screenshots, and the layout checks of the page's visible
// defects (header on one line, toast over no chart, band names over no data, label rows).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const failures = [];
let checks = 0;
function check(what, cond, detail) {
    checks++;
    console.log((cond ? 'ok   ' : 'FAIL ') + what + (!cond && detail !== undefined ? ': ' + JSON.stringify(detail).slice(0, 600) : ''));
    if (!cond)
        failures.push(what);
    return !!cond;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function poll(seconds, fn) { // until fn() is truthy; returns its last value
    const end = Date.now() + seconds * 1000;
    let v;
    while (!(v = await fn().catch(() => false)) && Date.now() < end)
        await sleep(250);
    return v;
}

async function get(url) {
    const r = await fetch(url, { cache: 'no-store' });
    if (!r.ok)
        throw new Error(url + ': ' + r.status);
    return (r.headers.get('content-type') || '').startsWith('application/json') ? r.json() : r.text();
}

// A screenshot from the top of the page (a full-page one taken scrolled down draws the sticky
// header in the middle).
async function shot(page, file, fullPage) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: file, fullPage });
}

// Records console errors, page errors and every request; log.outside gets those that leave
// origin.
function watch(page, origin) {
    const log = { errors: [], outside: [], requests: 0, urls: [] };
    page.on('console', (m) => { if (m.type() === 'error') log.errors.push(m.text()); });
    page.on('pageerror', (e) => log.errors.push(String(e)));
    page.on('request', (r) => {
        log.requests++;
        if (log.urls.length < 1000)
            log.urls.push(r.url());
        if (new URL(r.url()).origin !== origin && !r.url().startsWith('data:'))
            log.outside.push(r.url());
    });
    return log;
}

// CONSOLE_DIR=DIR (a copy of web/console, e.g. of another commit): the page's own files come
// from DIR instead of the binary, so the checks can run against another version of the page
// without a rebuild (the data still comes from the binary; requests are still counted).
async function serveFrom(ctx, dir) {
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
    await ctx.route(/\/(index\.html|console\/[^/]+)?$/, (route) => {
        const p = new URL(route.request().url()).pathname;
        const file = path.join(dir, p === '/' ? 'index.html' : path.basename(p));
        if (!fs.existsSync(file))
            return route.continue();
        return route.fulfill({ status: 200, contentType: types[path.extname(file)] || 'text/plain',
            body: fs.readFileSync(file) });
    });
}

// Runs body(ctx) in a fresh Chromium profile, then prints the closing line and exits with the
// verdict. An exception is one failure.
function run(name, body) {
    (async () => {
        const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'diorama-' + name + '-'));
        const ctx = await chromium.launchPersistentContext(profile, {
            executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
            args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync'],
            viewport: { width: 1600, height: 1000 },
        });
        if (process.env.CONSOLE_DIR)
            await serveFrom(ctx, process.env.CONSOLE_DIR);
        try {
            await body(ctx);
        } finally {
            await ctx.close();
            fs.rmSync(profile, { recursive: true, force: true });
        }
        console.log(`${checks - failures.length} passed, ${failures.length} failed`);
        process.exit(failures.length ? 1 : 0);
    })().catch((e) => {
        console.log('FAIL: ' + (e && e.stack || e));
        process.exit(1);
    });
}

// ---- layout checks: what a user at a projector sees -------------------------------------

// The header on one line: every child's box within the first row's band (a wrapped child sits
// a row lower). Returns {ok, height, rows: [[tag#id, top, bottom]]}.
function headerOneLine(page) {
    return page.evaluate(() => {
        const h = document.querySelector('header');
        const kids = [...h.querySelectorAll(':scope > *, .actions > *')].filter((e) => e.offsetParent !== null &&
            e.getClientRects().length && !e.classList.contains('actions'));
        const rows = kids.map((e) => { const r = e.getBoundingClientRect();
            return [e.tagName.toLowerCase() + '#' + (e.id || e.className), Math.round(r.top), Math.round(r.bottom)]; });
        const top = Math.min(...rows.map((r) => r[1])), bottom = Math.max(...rows.map((r) => r[2]));
        // one row: no box starts below where the tallest box of the row ends
        const tallest = Math.max(...rows.map((r) => r[2] - r[1]));
        return { ok: bottom - top <= tallest + 2, height: h.getBoundingClientRect().height, rows,
            overflow: h.scrollWidth - h.clientWidth,
            pageWidth: document.documentElement.scrollWidth, viewport: innerWidth };
    });
}

// The toast's box and every chart panel it overlaps, while it shows.
function toastOverCharts(page) {
    return page.evaluate(() => {
        const t = document.querySelector('#toast');
        if (!t.classList.contains('show'))
            return { shown: false };
        const a = t.getBoundingClientRect();
        const over = [...document.querySelectorAll('#charts .panel.chart')].filter((c) => {
            const b = c.getBoundingClientRect();
            return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        }).map((c) => c.querySelector('h2').textContent);
        return { shown: true, over, box: [a.left, a.top, a.width, a.height].map(Math.round), text: t.textContent };
    });
}

// Records the text every canvas draws (installed before the page's scripts run), so a test
// can see where band names went, whatever code drew them.
async function recordCanvasText(page) {
    await page.addInitScript(() => {
        const orig = CanvasRenderingContext2D.prototype.fillText;
        window.__texts = [];
        CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
            const c = this.canvas;
            if (window.__texts.length > 20000)
                window.__texts.splice(0, 10000);
            window.__texts.push({ c, text: String(text), x, y, base: this.textBaseline, t: performance.now() });
            return orig.call(this, text, x, y, ...rest);
        };
    });
}

// The band names (period names of docs/console.md) the charts drew in their last second: per
// chart, how many, on how many text rows, and how many inside the plot area (over the data).
function bandNames(page) {
    return page.evaluate(() => {
        const names = new Set([...window.diorama.periods.all()].map((p) => p.text));
        const isName = (s) => names.has(s) || (s.endsWith('\u2026') && [...names].some((n) => n.startsWith(s.slice(0, -1))));
        const now = performance.now();
        return window.diorama.charts.charts.filter((c) => c.u && !c.el.closest('[hidden]')).map((c) => {
            const cv = c.u.ctx.canvas, top = c.u.bbox.top;
            const drawn = window.__texts.filter((d) => d.c === cv && now - d.t < 1500 && isName(d.text));
            // the last draw of the chart only: names of one frame
            const last = drawn.length ? Math.max(...drawn.map((d) => d.t)) : 0;
            const frame = drawn.filter((d) => last - d.t < 5);
            const rows = new Set(frame.map((d) => Math.round(d.y)));
            // where a name's glyphs end, by its baseline; below the plot's top = over the data
            const below = { top: 15, hanging: 15, middle: 8 };
            const inside = frame.filter((d) => d.y + (below[d.base] ?? 4) * devicePixelRatio > top);
            return { chart: c.el.id || c.el.closest('.host-chart')?.querySelector('.host-title').textContent,
                names: frame.length, rows: rows.size, inside: inside.length,
                sample: frame.slice(0, 4).map((d) => d.text) };
        });
    });
}

module.exports = { check, sleep, poll, get, shot, watch, run, headerOneLine, toastOverCharts,
    recordCanvasText, bandNames, get failed() { return failures.length; } };
