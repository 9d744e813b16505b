// Live charts (uPlot) fed by the per-second aggregates of the stream: request rate, errors and
// p50/p99 per entry and model, CPU and memory of a few hosts (small multiples), GPU. Fault and
// state periods are shaded and named on every chart they concern.
//
// Cost with many hosts: the store keeps 300 points per series (5 minutes at one aggregate a
// second); only HOST_CHARTS host charts exist at once (the selected host, then the busiest),
// and the series of a chart are its TOP busiest names, so a 200-host world draws the same
// number of charts and series as a 20-host one.
import uPlot from './uPlot.esm.js';

const CAP = 300;
const TOP = 8;
export const HOST_CHARTS = 6;
const PALETTE = ['#4e9af1', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948',
    '#ff9da7', '#9c755f', '#bab0ac'];

// Ring of per-second points: t (seconds, simulated) and per name one array per field.
export class Store {
    constructor() {
        this.t = [];
        this.groups = { entries: new Map(), models: new Map(), hosts: new Map() };
        this.fields = { entries: ['rate', 'errors', 'p50', 'p99'],
            models: ['rate', 'errors', 'p50', 'p99', 'gpu'], hosts: ['cpu', 'mem', 'gpu'] };
        this.latest = { entries: new Map(), models: new Map(), hosts: new Map() };
    }

    // Adds one aggregate; false when it is not newer than the last one.
    push(agg) {
        const x = agg.t / 1000;
        if (this.t.length && x <= this.t[this.t.length - 1])
            return false;
        this.t.push(x);
        for (const g of Object.keys(this.groups))
            this.put(g, agg[g] || []);
        if (this.t.length > CAP) {
            this.t.shift();
            for (const m of Object.values(this.groups))
                for (const rec of m.values())
                    for (const a of Object.values(rec))
                        a.shift();
        }
        return true;
    }

    put(group, items) {
        const n = this.t.length, map = this.groups[group], fields = this.fields[group];
        const seen = new Set();
        for (const it of items) {
            let rec = map.get(it.name);
            if (!rec) {
                rec = {};
                for (const f of fields)
                    rec[f] = new Array(n - 1).fill(null);
                map.set(it.name, rec);
            }
            for (const f of fields)
                rec[f].push(typeof it[f] === 'number' ? it[f] : null);
            seen.add(it.name);
            this.latest[group].set(it.name, it);
        }
        for (const [name, rec] of map)
            if (!seen.has(name))
                for (const f of fields)
                    rec[f].push(null);
    }

    // The names of group, busiest first by the latest value of field.
    top(group, field, n) {
        return [...this.latest[group].values()]
            .sort((a, b) => (b[field] || 0) - (a[field] || 0) || (a.name < b.name ? -1 : 1))
            .slice(0, n).map((it) => it.name);
    }
}

function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// Theme colours read once per theme (getComputedStyle is too slow to call per frame).
let theme = null;
export function readTheme() {
    theme = { fg: cssVar('--fg'), panel: cssVar('--panel'), muted: cssVar('--muted'), grid: cssVar('--grid'),
        degrading: cssVar('--shade-degrading'), critical: cssVar('--shade-critical'),
        custom: cssVar('--shade-custom'), fault: cssVar('--shade-fault'),
        'solid-degrading': cssVar('--degrading'), 'solid-critical': cssVar('--critical'),
        'solid-custom': cssVar('--custom'), 'solid-fault': cssVar('--accent'),
        font: '15px ' + cssVar('--font') };
    return theme;
}

const SHADE_ORDER = ['fault', 'custom', 'degrading', 'critical'];

// The strip above each plot where band names go (CSS px).
const NAME_STRIP = 26;

// Shades the periods getPeriods() returns (see timeline.js) under the series and names them.
// selectedName() is the selected entity, whose bands are named first.
function shading(getPeriods, selectedName) {
    const spans = (u) => {
        const x0 = u.scales.x.min, x1 = u.scales.x.max, out = [];
        if (x0 == null || x1 == null)
            return out;
        for (const p of getPeriods()) {
            const s = Math.max(p.start, x0), e = Math.min(p.end ?? x1, x1);
            if (e < s)
                continue;
            const a = u.valToPos(s, 'x', true), b = u.valToPos(e, 'x', true);
            out.push({ p, a, w: Math.max(2 * devicePixelRatio, b - a) });
        }
        return out;
    };
    return {
        hooks: {
            // One translucent layer per kind (the union of its periods), so ten overlapping
            // periods of a big fleet do not stack into an opaque wall over the lines.
            drawClear: [(u) => {
                const { top, height } = u.bbox, byShade = new Map();
                for (const { p, a, w } of spans(u)) {
                    const k = theme[p.shade] ? p.shade : 'fault';
                    (byShade.get(k) || byShade.set(k, []).get(k)).push([a, a + w]);
                }
                for (const k of SHADE_ORDER) {
                    const list = (byShade.get(k) || []).sort((x, y) => x[0] - y[0]);
                    u.ctx.fillStyle = theme[k];
                    for (let i = 0; i < list.length;) {
                        let [a, b] = list[i++];
                        while (i < list.length && list[i][0] <= b)
                            b = Math.max(b, list[i++][1]);
                        u.ctx.fillRect(a, top, b - a, height);
                    }
                }
            }],
            // Names in a strip above the plot (the top padding), never over the data: one row,
            // the selected entity's bands first, then open ones, then the newest; a name too
            // long is cut with an ellipsis, those that do not fit are counted ("+3"), and the
            // chart's tooltip names every band under the cursor.
            draw: [(u) => {
                const { left, top, width } = u.bbox, ctx = u.ctx, px = devicePixelRatio;
                const list = spans(u);
                if (!list.length)
                    return;
                ctx.save();
                ctx.font = theme.font.replace(/^\d+px/, (m) => parseInt(m) * px + 'px');
                ctx.textBaseline = 'middle';
                ctx.textAlign = 'left'; // uPlot leaves it as its last axis set it (right)
                const y = top - (NAME_STRIP / 2) * px, box = 9 * px, sel = selectedName();
                const rank = ({ p }) => (p.target === sel || p.target.startsWith(sel + '/') ? 0 : 2) +
                    (p.end == null ? 0 : 1);
                list.sort((a, b) => rank(a) - rank(b) || b.p.start - a.p.start);
                const more = (n) => '+' + n;
                const moreW = ctx.measureText(more(list.length)).width + 8 * px;
                const right = left + width - moreW, taken = [];
                let shown = 0, room = right - left;
                for (const { p, a } of list) {
                    if (room < 60 * px) // the strip is full: the rest are counted
                        break;
                    const [text, tw] = fit(ctx, p.text, width * 0.4);
                    const w = box + 4 * px + tw;
                    const x = Math.max(left, Math.min(a, right - w));
                    if (x + w > right || taken.some(([s, e]) => x < e && s < x + w + 10 * px))
                        continue;
                    taken.push([x, x + w]);
                    room -= w + 10 * px;
                    shown++;
                    ctx.fillStyle = theme['solid-' + p.shade] || theme['solid-fault'];
                    ctx.fillRect(x, y - box / 2, box, box);
                    ctx.fillStyle = theme.fg;
                    ctx.fillText(text, x + box + 4 * px, y);
                }
                if (shown < list.length) {
                    ctx.fillStyle = theme.muted;
                    ctx.textAlign = 'right';
                    ctx.fillText(more(list.length - shown), left + width, y);
                }
                ctx.restore();
            }],
            // the full names of the bands under the cursor, as the chart's tooltip
            setCursor: [(u) => {
                const x = u.cursor.left;
                let tip = '';
                if (x != null && x >= 0) {
                    const v = u.posToVal(x, 'x');
                    tip = [...getPeriods()].filter((p) => p.start <= v && (p.end == null || p.end >= v))
                        .map((p) => p.text).slice(0, 12).join('\n');
                }
                if (u.over.title !== tip)
                    u.over.title = tip;
            }],
        },
    };
}

// [text cut with an ellipsis to at most maxW canvas pixels, its width]; widths are kept per
// font and text (a 200-host world names hundreds of periods on every chart, every second).
const widths = new Map();
function measure(ctx, text) {
    const k = ctx.font + '\u0000' + text;
    let w = widths.get(k);
    if (w === undefined) {
        if (widths.size > 5000)
            widths.clear();
        w = ctx.measureText(text).width;
        widths.set(k, w);
    }
    return w;
}
function fit(ctx, text, maxW) {
    let w = measure(ctx, text), n = text.length;
    if (w <= maxW)
        return [text, w];
    while (n > 1 && (w = measure(ctx, text.slice(0, n) + '\u2026')) > maxW)
        n--;
    return [text.slice(0, n) + '\u2026', w];
}

// Time ticks: whole seconds at least, at least TICK_SPACE px apart, written like the header's
// clock (UTC, simulated time): HH:MM:SS below a minute's step, HH:MM above. uPlot's own
// choice went down to half seconds while a chart held its first few points.
export const TICK_SPACE = 110;
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
    21600, 43200, 86400];
export function fmtTick(secs, incr) {
    const iso = new Date(Math.round(secs) * 1000).toISOString();
    return incr < 60 ? iso.slice(11, 19) : incr < 86400 ? iso.slice(11, 16) : iso.slice(5, 10);
}

function axes(unit, log) {
    const t = theme;
    const common = { stroke: t.muted, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid },
        font: t.font, labelFont: t.font };
    return [{ ...common, space: TICK_SPACE, incrs: TIME_INCRS,
        values: (u, splits, ax, space, incr) => splits.map((v) => (v == null ? '' : fmtTick(v, incr))) },
    { ...common, size: 70, values: (u, vals) => vals.map((v) => (v == null ? '' : fmt(v, unit, log))) }];
}

export function fmt(v, unit) {
    if (unit === '%')
        return Math.round(v) + '%';
    if (unit === 'ms')
        return v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + ' s' : +v.toPrecision(3) + ' ms';
    return Math.abs(v) >= 1000 ? (v / 1000).toFixed(1) + 'k' : String(+v.toPrecision(3));
}

// One chart in container el. spec(): {series: [{label, values, color, dash}], unit, log, range}.
// The chart is rebuilt only when the series' labels change; otherwise setData.
export class Chart {
    constructor(el, spec, getPeriods, height, selected) {
        this.el = el;
        this.selected = selected;
        this.spec = spec;
        this.getPeriods = getPeriods;
        this.height = height;
        this.u = null;
        this.key = '';
    }

    update(t) {
        const s = this.spec();
        const key = s.series.map((x) => x.label).join('\u0000') + '|' + (theme && theme.fg);
        const data = [t, ...s.series.map((x) => (s.log ? x.values.map((v) => (v > 0 ? v : null)) : x.values))];
        if (key !== this.key || !this.u) {
            this.key = key;
            this.build(s, data);
        } else {
            // batch: uPlot draws now, not in a microtask after the frame's callback, so
            // Charts.step's time budget counts the drawing
            this.u.batch(() => this.u.setData(data));
        }
    }

    build(s, data) {
        if (this.u)
            this.u.destroy();
        const width = Math.max(200, this.el.clientWidth);
        const yRange = s.range ? { range: s.range } : s.log ? { distr: 3 } : { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.1 : 1] };
        this.u = new uPlot({
            width, height: this.height,
            legend: { show: true, live: false },
            cursor: { drag: { x: false, y: false }, points: { show: false } },
            scales: { x: { time: true }, y: yRange },
            axes: axes(s.unit, s.log),
            series: [{}, ...s.series.map((x) => ({ label: x.label, stroke: x.color, width: 2,
                dash: x.dash, spanGaps: false, points: { show: false },
                value: (u, v) => (v == null ? '-' : fmt(v, s.unit)) }))],
            padding: [NAME_STRIP, null, null, null],
            plugins: [shading(this.getPeriods, this.selected)],
        }, data, this.el);
    }

    // Only a new width costs a redraw: the charts' box also grows and shrinks in height (legends,
    // host slots shown or hidden), which must not redraw every chart in one frame.
    resize(width) {
        const w = Math.max(200, width);
        if (this.u && Math.abs(w - this.u.width) >= 1)
            this.u.setSize({ width: w, height: this.height });
    }

    destroy() {
        if (this.u)
            this.u.destroy();
        this.u = null;
        this.key = '';
    }
}

// The charts of the page. hostInfo(name) -> {memory_gib}; selected() -> the selected entity.
export class Charts {
    constructor(root, store, periods, hostInfo, selected) {
        this.store = store;
        this.periods = periods;
        this.charts = [];
        const all = () => periods.all();
        const named = (names) => () => periods.forTargets(names());
        const st = store;
        // The busiest names in name order: a chart is rebuilt only when the set changes, not
        // each time two series swap ranks.
        const busy = () => [...st.top('entries', 'rate', TOP), ...st.top('models', 'rate', TOP)]
            .slice(0, TOP).sort();
        const series = (field, names, dash) => names.map((n, i) => {
            const rec = st.groups.entries.get(n) || st.groups.models.get(n);
            return { label: n + (dash !== undefined ? ' ' + field : ''), values: rec ? rec[field] : [],
                color: PALETTE[i % PALETTE.length], dash };
        });
        const add = (id, spec, get, h) => this.charts.push(new Chart(root.querySelector(id), spec, get, h, selected));
        add('#chart-rate', () => ({ unit: '/s', series: series('rate', busy()) }), all, 260);
        add('#chart-errors', () => ({ unit: '/s', series: series('errors', busy()) }), all, 260);
        add('#chart-latency', () => {
            const names = busy().slice(0, 5);
            return { unit: 'ms', log: true, series: [...series('p99', names, undefined).map((x) => ({ ...x, label: x.label + ' p99' })),
                ...series('p50', names, [6, 6])] };
        }, all, 300);
        add('#chart-gpu', () => {
            const models = st.top('models', 'gpu', 4).filter((n) => st.latest.models.get(n).gpu != null).sort();
            const hosts = st.top('hosts', 'gpu', 6).filter((n) => st.latest.hosts.get(n).gpu != null).sort();
            const pct = (a) => a.map((v) => (v == null ? null : v * 100));
            return { unit: '%', range: [0, 100], series: [
                ...models.map((n, i) => ({ label: n, values: pct(st.groups.models.get(n).gpu), color: PALETTE[i] })),
                ...hosts.map((n, i) => ({ label: n, values: pct(st.groups.hosts.get(n).gpu), color: PALETTE[(i + 4) % 10], dash: [6, 6] }))] };
        }, all, 220);
        // Host small multiples: each slot shows the i-th of hostsShown().
        this.hostsShown = () => {
            const sel = selected();
            const list = st.groups.hosts.has(sel) ? [sel] : [];
            for (const n of st.top('hosts', 'cpu', HOST_CHARTS + 1))
                if (n !== sel && list.length < HOST_CHARTS)
                    list.push(n);
            return list;
        };
        this.hostSlots = [...root.querySelectorAll('.host-chart')];
        this.hostSlots.forEach((slot, i) => {
            const host = () => this.hostsShown()[i];
            const spec = () => {
                const h = host(), rec = st.groups.hosts.get(h), gib = (hostInfo(h) || {}).memory_gib || 0;
                const mem = rec && gib ? rec.mem.map((v) => (v == null ? null : (100 * v) / (gib * 2 ** 30))) : [];
                return { unit: '%', range: [0, 100], series: [
                    { label: 'cpu', values: rec ? rec.cpu.map((v) => (v == null ? null : v * 100)) : [], color: PALETTE[0] },
                    { label: 'memory', values: mem, color: PALETTE[1] }] };
            };
            this.charts.push(new Chart(slot.querySelector('.plot'), spec, named(() => [host()]), 150, selected));
        });
        // Each chart's own container, by width (content box, no layout read of ours).
        const byEl = new Map(this.charts.map((c) => [c.el, c]));
        const ro = new ResizeObserver((entries) => {
            for (const e of entries)
                if (e.contentRect.width > 0) // 0: a hidden host slot
                    byEl.get(e.target).resize(e.contentRect.width);
        });
        for (const c of this.charts)
            ro.observe(c.el);
    }

    // Redraws the charts a few per animation frame (about 6 ms of work each frame), so one
    // aggregate never becomes one long frame of ten chart redraws. Returns whether some are
    // left for the next frame.
    step() {
        if (!this.todo || !this.todo.length)
            this.todo = this.prepare();
        const t0 = performance.now();
        while (this.todo.length && performance.now() - t0 < 6)
            this.todo.shift().update(this.store.t);
        return this.todo.length > 0;
    }

    prepare() {
        const shown = this.hostsShown();
        this.hostSlots.forEach((slot, i) => {
            const name = shown[i] || '';
            slot.hidden = !name;
            const title = slot.querySelector('.host-title');
            if (title.textContent !== name)
                title.textContent = name;
            slot.dataset.entity = name;
        });
        return this.charts.filter((c) => !c.el.closest('[hidden]'));
    }

    update() {
        for (const c of this.prepare())
            c.update(this.store.t);
        this.todo = [];
    }

    rebuild() {
        readTheme();
        for (const c of this.charts)
            c.destroy();
        this.update();
    }
}
