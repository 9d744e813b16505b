// The predictive-monitoring seed's demo (003), end to end in headless Chromium (playwright-core
// and Debian's /usr/bin/chromium) on `diorama up fleet`: click ppdb002, then degrading,
// critical, healthy, and check each step through the page, the control API (entity state,
// per-second aggregates, labels) and a real Prometheus scraping the run's /metrics. Then the
// header controls and rate sliders, each verified through GET /api/world. The telemetry the
// run sent to `diorama sink` is checked afterwards by console_sink_check.js, from the phase
// times this script writes.
//
//   node console_demo.js CONSOLE_URL PROMETHEUS_URL OUT_DIR PHASES.json
//
// No check here measures a duration: every step waits for its condition with a generous
// timeout. OUT_DIR gets demo-healthy.png (light), demo-degrading.png (dark) and
// demo-critical.png.
'use strict';
const fs = require('fs');
const path = require('path');
const { check, sleep, poll, get: getAny, shot: shotIn, watch, run } = require('./console_lib.js');

const [con, prom, outDir, phasesOut] = process.argv.slice(2);
const HOST = 'ppdb002';
const ENTRY = 'storefront/POST /orders'; // reaches ppdb002 through orders -> orders-db
const shot = (page, name, fullPage) => shotIn(page, path.join(outDir, name), fullPage);
async function get(url) {
    const j = await getAny(url);
    if (typeof j !== 'object')
        throw new Error(url + ': not JSON');
    return j;
}
const world = () => get(con + '/api/world');
const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;

// ppdb002's busy CPU (1 - idle, averaged over its CPUs) as Prometheus stored it, or null.
async function promCpu() {
    const q = encodeURIComponent(`system_cpu_utilization_ratio{instance="${HOST}"}`);
    const r = await get(`${prom}/api/v1/query?query=${q}`);
    const idle = r.data.result.filter((s) => Object.values(s.metric).includes('idle'));
    return idle.length ? 1 - mean(idle.map((s) => Number(s.value[1]))) : null;
}

// The aggregates after sim-ms t (GET /api/aggregates): ppdb002's CPU, the entry's p50 and errors.
async function aggsAfter(t) {
    const pts = (await get(con + '/api/aggregates?after=' + Math.round(t))).points || [];
    return pts.map((p) => {
        const h = p.hosts.find((x) => x.name === HOST) || {};
        const e = p.entries.find((x) => x.name === ENTRY) || {};
        return { t: p.t, cpu: h.cpu, state: h.state, p50: e.p50, rate: e.rate, errors: e.errors };
    });
}

// The state label the page's click produced: the newest begin line of HOST in that state;
// for healthy (which starts no period, docs/labels.md) the end line of the critical period,
// with its end as the start.
async function stateLabel(state) {
    const l = (await get(con + '/api/labels?after=0')).labels.map((x) => x.label)
        .filter((x) => x.target === HOST && x.kind === 'state' && x.source === 'command');
    if (state === 'healthy') {
        const end = l.filter((x) => x.state === 'critical' && x.phase === 'end').pop();
        return end && { ...end, start_unix_nano: end.end_unix_nano };
    }
    return l.filter((x) => x.state === state && x.phase !== 'end').pop();
}

async function pageHas(page, fn, arg) {
    return poll(20, () => page.evaluate(fn, arg));
}

async function setState(page, state) {
    await page.locator(`#state-buttons button[data-state="${state}"]`).click();
    const en = await poll(20, async () => { const e = await get(con + '/api/entities/' + HOST); return e.state === state && e; });
    check(`API: ${HOST} ${state} (source command)`, en && en.source === 'command', en);
    const lab = await poll(20, () => stateLabel(state));
    check(`API: the ${state} label`, lab, lab);
    check(`page: the ${HOST} tile is ${state}`, await pageHas(page, ([h, s]) =>
        document.querySelector(`#hosts .host[data-entity="${h}"]`).dataset.state === s, [HOST, state]));
    return lab ? lab.start_unix_nano / 1e6 : null; // sim ms
}

// Waits for n aggregates that begin after sim-ms t (one metric interval in), returns them.
async function aggsOf(t, n, state) {
    let pts = [];
    await poll(40, async () => {
        pts = (await aggsAfter(t)).filter((p) => p.state === state);
        return pts.length >= n;
    });
    return pts;
}

async function demo(page, phases) {
    const before = await poll(60, promCpu);
    check(`Prometheus has ${HOST}'s CPU before (${before != null && before.toFixed(2)})`, before != null && before < 0.6, before);
    const base = await aggsOf(0, 3, 'healthy');
    check(`aggregates: 3 healthy seconds (${base.length})`, base.length >= 3);
    phases.start = base[0] && base[0].t;
    await page.emulateMedia({ colorScheme: 'light' });
    await shot(page, 'demo-healthy.png', true);

    await page.locator(`#hosts .host[data-entity="${HOST}"]`).click();
    check(`page: the inspector shows ${HOST}`, (await page.locator('#sel-name').textContent()) === HOST);
    phases.degrading = await setState(page, 'degrading');
    check('page: the header pill names it', await pageHas(page, (h) =>
        document.querySelector('#summary').textContent.includes(h + ' degrading'), HOST),
    await page.locator('#summary').textContent());
    const deg = await aggsOf(phases.degrading, 4, 'degrading');
    const cpu0 = mean(base.map((p) => p.cpu)), cpu1 = mean(deg.slice(1).map((p) => p.cpu));
    check(`aggregates: ${HOST}'s CPU rose (${cpu0.toFixed(2)} -> ${cpu1.toFixed(2)})`, cpu1 > cpu0 + 0.2, [base, deg]);
    const lat0 = mean(base.map((p) => p.p50)), lat1 = mean(deg.slice(1).map((p) => p.p50));
    check(`aggregates: ${ENTRY} p50 rose (${lat0.toFixed(1)} -> ${lat1.toFixed(1)} ms)`, lat1 > lat0 * 1.05, [base, deg]);
    let last = null;
    const rose = await poll(60, async () => { last = await promCpu(); return last != null && last > before + 0.2; });
    check(`Prometheus: ${HOST}'s CPU rose (${before.toFixed(2)} -> ${last && last.toFixed(2)})`, rose, last);
    check('page: the charts shade the degrading period', await pageHas(page, (h) =>
        [...window.diorama.periods.all()].some((p) => p.target === h && p.shade === 'degrading'), HOST));
    check(`page: ${HOST}'s host chart comes first`, await pageHas(page, (h) =>
        document.querySelector('.host-chart .host-title').textContent === h, HOST));
    await page.emulateMedia({ colorScheme: 'dark' });
    await sleep(300);
    await shot(page, 'demo-degrading.png', true);
    await page.emulateMedia({ colorScheme: 'light' });

    phases.critical = await setState(page, 'critical');
    const crit = await aggsOf(phases.critical, 3, 'critical');
    const errs = crit.slice(1).map((p) => p.errors);
    check(`aggregates: errors of ${ENTRY} under critical (${errs.map((e) => e.toFixed(2))}/s)`,
        errs.length && mean(errs) > 0, crit);
    check('page: its store has the errors too', await pageHas(page, ([e, t]) => {
        const st = window.diorama.store, rec = st.groups.entries.get(e);
        return rec && st.t.some((x, i) => x * 1000 > t && rec.errors[i] > 0);
    }, [ENTRY, phases.critical]));
    check('page: the header pill is red and names it', await pageHas(page, (h) => {
        const p = document.querySelector('#summary');
        return p.classList.contains('bad') && p.textContent.includes(h + ' critical');
    }, HOST), await page.locator('#summary').textContent());
    await shot(page, 'demo-critical.png', true);

    phases.healthy_again = await setState(page, 'healthy');
    const back = await aggsOf(phases.healthy_again, 3, 'healthy');
    check(`aggregates: ${HOST}'s CPU back down (${back.length && back[back.length - 1].cpu.toFixed(2)})`,
        back.length && back[back.length - 1].cpu < cpu0 + 0.15, back);
    check('page: the header pill says all healthy again', await pageHas(page, () =>
        document.querySelector('#summary').textContent === 'all healthy'));
    // the three changes, one row each, newest first: a period's end line completes its row (how
    // long it lasted) instead of repeating the next state's begin ("degrading → critical" was
    // listed twice); critical's end, back to healthy, is a row of its own
    const rows = () => page.evaluate((h) => [...document.querySelectorAll('#labels li')]
        .filter((li) => li.dataset.target === h && li.querySelector('.source').textContent === 'command')
        .map((li) => li.querySelector('.what').textContent + '|' + li.querySelector('.phase').textContent), HOST);
    const want = ['critical \u2192 healthy', 'degrading \u2192 critical', 'healthy \u2192 degrading'];
    const ok = (r) => r.length === 3 && r.every((x, i) => x.startsWith(want[i] + '|')) &&
        /^\d.* (s|min|h)$/.test(r[1].split('|')[1]) && /^\d.* (s|min|h)$/.test(r[2].split('|')[1]);
    let got = [];
    check('page: the label list shows the three changes, one row each, with how long each state lasted',
        await poll(20, async () => ok(got = await rows())), got);
    const labels = (await get(con + '/api/labels?after=0')).labels.map((x) => x.label)
        .filter((l) => l.target === HOST && l.kind === 'state' && l.source === 'command')
        .map((l) => l.state + ':' + l.phase);
    check('GET /api/labels: degrading, critical, back to healthy (the end of critical)',
        labels.join() === 'degrading:begin,degrading:end,critical:begin,critical:end', labels);
}

// The page's header and rate controls, each seen through GET /api/world.
async function controls(page) {
    const w0 = await world();
    const slider = async (name) => {
        const input = page.locator(`#rates .rate[data-rate="${name}"] input[type=range]`);
        await input.scrollIntoViewIfNeeded();
        const box = await input.boundingBox();
        await page.mouse.click(box.x + box.width * 0.8, box.y + box.height / 2); // a click at 80%: x4
        return Number(await input.inputValue());
    };
    const factors = async () => (await world()).rates.map((r) => r.factor);
    const entry = w0.rates[0].name;
    const v = await slider(entry);
    const r1 = await poll(20, async () => (await world()).rates.find((r) => r.name === entry).factor === v);
    check(`rate slider of ${entry} (x${v}): GET /api/world says x${v}`, r1 && v > 1, await factors());
    const all = await slider('');
    const r2 = await poll(20, async () => (await factors()).every((f) => f === all));
    check(`rate slider of all traffic (x${all}): every rate x${all}`, r2 && all > 1, await factors());
    await page.keyboard.press('Home'); // the slider has the focus: x0, then back to x1
    check('rate slider by keyboard (Home): every rate x0', await poll(20, async () => (await factors()).every((f) => f === 0)), await factors());
    for (let i = 0; i < 10; i++)
        await page.keyboard.press('ArrowRight');
    const r3 = await poll(20, async () => (await factors()).every((f) => Math.abs(f - 1) < 1e-9));
    check('rate slider by keyboard (10 x ArrowRight): every rate x1 again', r3, await factors());

    await page.locator('#pause').click();
    check('Pause: GET /api/world says paused', await poll(20, async () => (await world()).paused === true));
    check('Pause: the button offers Resume', await pageHas(page, () => document.querySelector('#pause').textContent === 'Resume traffic'));
    const quiet = await poll(40, async () => {
        const pts = await aggsAfter(0);
        return pts.length && pts[pts.length - 1].rate === 0 && pts[pts.length - 1].t;
    });
    check(`Pause: ${ENTRY}'s rate falls to 0 in the aggregates`, quiet);
    await page.locator('#pause').click();
    check('Resume: GET /api/world says not paused', await poll(20, async () => (await world()).paused === false));
    check(`Resume: ${ENTRY}'s rate comes back`, await poll(40, async () =>
        (await aggsAfter(quiet || 0)).some((p) => p.rate > 0)));

    const speed0 = (await world()).speed;
    const other = speed0 === 10 ? '5' : '10';
    await page.locator('#speed').selectOption(other);
    check(`speed x${other}: GET /api/world says ${other}`, await poll(20, async () => (await world()).speed === Number(other)));
    await page.locator('#speed').selectOption(String(speed0));
    check(`speed back to x${speed0}`, await poll(20, async () => (await world()).speed === speed0));

    await page.locator('#chaos-spec').fill('every=30m,hold=1m-2m,max=1');
    await page.locator('#chaos').click();
    const on = await poll(20, async () => { const c = (await world()).chaos; return c.enabled && c; });
    check(`chaos on: GET /api/world says enabled (${on && on.spec})`, on && /every=30m/.test(on.spec), (await world()).chaos);
    check('chaos on: the button says so', await pageHas(page, () => document.querySelector('#chaos').textContent === 'Chaos: on'));
    await page.locator('#chaos').click();
    check('chaos off: GET /api/world says disabled', await poll(20, async () => (await world()).chaos.enabled === false));
}

run('demo', async (ctx) => {
    fs.mkdirSync(outDir, { recursive: true });
    const origin = new URL(con).origin;
    const phases = {};
    try {
        const page = await ctx.newPage();
        const log = watch(page, origin);
        await page.goto(con + '/');
        check('the page loads the world', await poll(30, () => page.evaluate(() => document.body.dataset.ready === '1')));
        check('the stream feeds the page (3 aggregates)', await poll(30, () => page.evaluate(() => Number(document.body.dataset.aggs || 0) >= 3)));
        await demo(page, phases);
        await controls(page);
        check('no console or page errors', log.errors.length === 0, log.errors);
        check(`no request outside ${origin} (${log.requests} made)`, log.outside.length === 0 && log.requests > 0, log.outside);
    } finally {
        fs.writeFileSync(phasesOut, JSON.stringify(phases));
    }
});
