// The console's entry point: loads the world's shape and state, follows the live stream and
// hands each event to the view that shows it (docs/console.md).
import { api, follow } from './api.js';
import { WorldView } from './world.js';
import { Store, Charts, readTheme } from './charts.js';
import { Periods, LabelList } from './timeline.js';
import { Controls } from './controls.js';

const $ = (s) => document.querySelector(s);
const THEME_KEY = 'diorama.theme';

// ---- theme: the system's by default, the toggle's once used -------------------------------
function applyTheme(t) {
    if (t)
        document.documentElement.dataset.theme = t;
    const dark = t ? t === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
    $('#theme').textContent = dark ? 'Light' : 'Dark';
    $('#theme').title = 'switch to the ' + (dark ? 'light' : 'dark') + ' theme';
    return dark;
}

// A change's outcome, for a few seconds, where it covers no chart: under the header at the
// right (at the top of the page: the inspector, where state buttons are clicked), else the
// first corner of the window with no chart under it, else over the header's left end (sticky,
// no chart). Placed again if the page scrolls while it shows.
let toastTimer = 0;
function placeToast() {
    const t = $('#toast');
    if (!t.classList.contains('show'))
        return;
    const hb = $('header').getBoundingClientRect(), w = t.offsetWidth, h = t.offsetHeight, m = 16;
    const charts = [...document.querySelectorAll('#charts .panel.chart')].map((c) => c.getBoundingClientRect());
    const free = ([x, y]) => !charts.some((r) => x < r.right && r.left < x + w && y < r.bottom && r.top < y + h);
    const spot = [[innerWidth - w - m, hb.bottom + m / 2], [m, hb.bottom + m / 2],
        [innerWidth - w - m, innerHeight - h - m], [m, innerHeight - h - m]].find(free) ||
        [m, hb.top + Math.max(0, (hb.height - h) / 2)];
    t.style.left = Math.round(spot[0]) + 'px';
    t.style.top = Math.round(spot[1]) + 'px';
}
function toast(msg, isError) {
    const t = $('#toast');
    t.textContent = msg;
    t.title = msg;
    t.className = isError ? 'show error' : 'show';
    placeToast();
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = ''; }, isError ? 6000 : 3000);
}
addEventListener('scroll', placeToast, { passive: true });
addEventListener('resize', placeToast, { passive: true });

const store = new Store();
const periods = new Periods();
const labels = new LabelList($('#labels'), $('#label-count'), $('#blips'));
const controls = new Controls(document.body, toast);
const hostInfo = new Map();
const charts = new Charts($('#charts'), store, periods, (n) => hostInfo.get(n), () => controls.selected);
const view = new WorldView($('#world'), select);
let lastLabel = 0;
let drawQueued = false;

function select(name) {
    view.select(name);
    controls.select(name);
    draw();
}

// All DOM work happens in animation frames: stream events only record what changed (the
// newest world, the newest host loads) and ask for a frame. Each frame first applies those
// (cheap: only tiles whose state or rounded load changed are touched), then redraws a few
// charts (Charts.step, a time budget per frame), so a burst of events is one update and one
// aggregate never becomes one long frame of ten chart redraws.
let redraw = false, pendingWorld = null, pendingLoad = null;
function frame() {
    if (pendingWorld) {
        const w = pendingWorld;
        pendingWorld = null;
        showWorld(w);
    }
    if (pendingLoad) {
        view.setLoad(pendingLoad.hosts);
        const clock = new Date(pendingLoad.t).toISOString().slice(11, 19) + ' UTC';
        if ($('#clock').textContent !== clock)
            $('#clock').textContent = clock;
        pendingLoad = null;
    }
    if (redraw) {
        redraw = false;
        charts.todo = null; // start over with the newest data
    }
    if (charts.step() || redraw || pendingWorld || pendingLoad)
        requestAnimationFrame(frame);
    else
        drawQueued = false;
}
function schedule() {
    if (!drawQueued) {
        drawQueued = true;
        requestAnimationFrame(frame);
    }
}
function draw() {
    redraw = true;
    schedule();
}

function onWorld(w) {
    controls.world = w; // a click before the next frame acts on the newest world
    pendingWorld = w;
    schedule();
}

function showWorld(w) {
    view.setStates(w.entities);
    controls.setWorld(w);
    if ($('#scenario').textContent !== w.scenario)
        $('#scenario').textContent = w.scenario;
    $('#scenario').title = w.scenario + ', run ' + w.run_id;
    const s = summarize(w);
    const pill = $('#summary');
    if (pill.textContent !== s.text)
        pill.textContent = s.text;
    pill.title = s.text + (s.title && s.title !== s.text ? '\n' + s.title : '');
    pill.className = 'pill ' + s.level;
}

// The header pill: "all healthy" only when no entity is in another state and no fault is
// active; otherwise what is not (named when few), worst first: critical red, else amber.
export function summarize(w) {
    const bad = w.entities.filter((e) => e.state !== 'healthy');
    const faults = (w.faults || []).filter((f) => f.active);
    if (!bad.length && !faults.length)
        return { text: 'all healthy', title: 'every entity healthy, no fault active', level: 'ok' };
    const parts = [];
    if (bad.length <= 2)
        parts.push(...bad.map((e) => e.name + ' ' + e.state));
    else
        parts.push(bad.length + ' unhealthy');
    if (faults.length === 1)
        parts.push('fault ' + faults[0].name);
    else if (faults.length)
        parts.push(faults.length + ' faults active');
    const title = [...bad.map((e) => e.name + ': ' + e.state),
        ...faults.map((f) => 'fault ' + f.name + ' on ' + f.target + (f.variant ? ' (' + f.variant + ')' : ''))].join('\n');
    return { text: parts.join(' \u00b7 '), title, level: bad.some((e) => e.state === 'critical') ? 'bad' : 'warn' };
}

function onLabel(ev) {
    if (!ev || ev.id <= lastLabel)
        return;
    lastLabel = ev.id;
    periods.add(ev.label);
    labels.add(ev.id, ev.label);
    draw();
}

function onAgg(a) {
    if (!store.push(a))
        return;
    pendingLoad = a;
    document.body.dataset.aggs = String(store.t.length);
    draw();
}

function setConn(state) {
    const c = $('#conn');
    c.textContent = { live: 'live', reconnecting: 'reconnecting\u2026', unavailable: 'polling' }[state] || state;
    c.className = 'pill ' + (state === 'live' ? 'ok' : 'warn');
}

// After a gap in the stream: what was missed (labels by id, aggregates by time).
async function catchUp() {
    try {
        const l = await api('GET', '/api/labels?after=' + lastLabel);
        l.labels.forEach(onLabel);
        const after = store.t.length ? Math.round(store.t[store.t.length - 1] * 1000) : 0;
        const g = await api('GET', '/api/aggregates?after=' + after);
        (g.points || []).forEach(onAgg);
        onWorld(await api('GET', '/api/world'));
    } catch (e) {
        // the stream's reconnect loop reports the connection state
    }
}

// A listener without the stream: poll the world and the labels instead.
function poll() {
    setInterval(async () => {
        try {
            onWorld(await api('GET', '/api/world'));
            (await api('GET', '/api/labels?after=' + lastLabel)).labels.forEach(onLabel);
        } catch (e) {
            setConn('reconnecting');
        }
    }, 1000);
}

function onEvent(name, data) {
    if (name === 'world')
        onWorld(data);
    else if (name === 'agg')
        onAgg(data);
    else if (name === 'label')
        onLabel(data);
    else if (name === 'request_labels')
        onCounted(data);
}

// One-request labels the stream counted instead of sending (?labels=incident).
function onCounted(ev) {
    if (!ev || ev.to <= lastLabel)
        return;
    lastLabel = ev.to;
    labels.counted(ev);
}

async function start() {
    let graph, world;
    for (;;) {
        try {
            [graph, world] = await Promise.all([api('GET', '/console/graph.json'), api('GET', '/api/world')]);
            break;
        } catch (e) {
            setConn('reconnecting');
            toast(e.message, true);
            await new Promise((r) => setTimeout(r, 2000));
        }
    }
    for (const h of graph.hosts)
        hostInfo.set(h.name, h);
    view.build(graph);
    showWorld(world);
    document.body.dataset.ready = '1';
    await catchUp();
    follow(onEvent, (s) => {
        setConn(s);
        if (s === 'unavailable')
            poll();
    }, catchUp);
}

let saved = localStorage.getItem(THEME_KEY);
applyTheme(saved);
readTheme();
$('#theme').addEventListener('click', () => {
    const dark = document.documentElement.dataset.theme
        ? document.documentElement.dataset.theme === 'dark'
        : matchMedia('(prefers-color-scheme: dark)').matches;
    saved = dark ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, saved);
    applyTheme(saved);
    charts.rebuild();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (!saved) {
        applyTheme(null);
        charts.rebuild();
    }
});

// For tests and benchmarks (tests/node/console_check.js).
window.diorama = { store, charts, periods, select, showWorld };
start();
