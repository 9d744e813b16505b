// The world at a glance: the call graph (services and models, layered left to right from the
// entry services), the host grid, each coloured by its state. Every element that stands for an
// entity carries data-entity=NAME; clicking one selects it.

const SVG = 'http://www.w3.org/2000/svg';
const BUILTIN = new Set(['healthy', 'degrading', 'critical']);

export function stateClass(state) {
    return 'st-' + (BUILTIN.has(state) ? state : 'custom');
}

function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls)
        e.className = cls;
    if (text !== undefined)
        e.textContent = text;
    return e;
}

function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs))
        e.setAttribute(k, v);
    if (text !== undefined)
        e.textContent = text;
    return e;
}

// Layer of every service: the longest call path from a service nobody calls (cycles cut).
function layers(services) {
    const byName = new Map(services.map((s) => [s.name, s]));
    const depth = new Map();
    const called = new Set(services.flatMap((s) => s.calls));
    const visit = (s, d, path) => {
        if (path.has(s.name) || (depth.get(s.name) ?? -1) >= d)
            return;
        depth.set(s.name, d);
        path.add(s.name);
        for (const c of s.calls)
            if (byName.has(c))
                visit(byName.get(c), d + 1, path);
        path.delete(s.name);
    };
    for (const s of services)
        if (!called.has(s.name))
            visit(s, 0, new Set());
    for (const s of services) // only cycles left: start them at 0
        if (!depth.has(s.name))
            visit(s, 0, new Set());
    return depth;
}

// Narrow gaps: the graph is scaled to its panel, and every pixel of width saved is type size.
const NODE_W = 180, NODE_H = 54, GAP_X = 48, GAP_Y = 18;

// Draws the graph into svgEl. Models sit one layer right of the service they enter.
function drawGraph(svgEl, graph) {
    svgEl.replaceChildren();
    const depth = layers(graph.services);
    const nodes = graph.services.map((s) => ({ name: s.name, sub: s.host || '', kind: 'service',
        layer: depth.get(s.name) || 0 }));
    for (const m of graph.models)
        nodes.push({ name: m.name, sub: 'model', kind: 'model',
            layer: m.service && depth.has(m.service) ? depth.get(m.service) + 1 : 0 });
    const cols = [];
    for (const n of nodes)
        (cols[n.layer] ||= []).push(n);
    const rows = Math.max(1, ...cols.map((c) => (c ? c.length : 0)));
    const width = Math.max(1, cols.length) * (NODE_W + GAP_X) - GAP_X + 20;
    const height = rows * (NODE_H + GAP_Y) - GAP_Y + 20;
    svgEl.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const pos = new Map();
    cols.forEach((col, l) => (col || []).forEach((n, i) => {
        const y0 = (height - (col.length * (NODE_H + GAP_Y) - GAP_Y)) / 2;
        pos.set(n.kind + ':' + n.name, { x: 10 + l * (NODE_W + GAP_X), y: y0 + i * (NODE_H + GAP_Y) });
    }));
    const defs = svg('defs', {});
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
    defs.append(marker);
    svgEl.append(defs);
    const edge = (a, b, cls) => {
        if (!a || !b)
            return;
        const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
        const mx = (x1 + x2) / 2;
        svgEl.append(svg('path', { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
            class: cls, 'marker-end': 'url(#arrow)' }));
    };
    for (const s of graph.services)
        for (const c of s.calls)
            edge(pos.get('service:' + s.name), pos.get('service:' + c), 'edge');
    for (const m of graph.models)
        edge(pos.get('service:' + m.service), pos.get('model:' + m.name), 'edge edge-model');
    for (const n of nodes) {
        const p = pos.get(n.kind + ':' + n.name);
        const g = svg('g', { class: 'node node-' + n.kind, 'data-entity': n.name, tabindex: 0,
            role: 'button', transform: `translate(${p.x},${p.y})` });
        g.append(svg('rect', { width: NODE_W, height: NODE_H, rx: n.kind === 'model' ? 27 : 8 }));
        g.append(svg('text', { x: 12, y: 23, class: 'node-name' }, n.name));
        g.append(svg('text', { x: 12, y: 44, class: 'node-sub' }, n.sub));
        g.append(svg('title', {}, n.kind + ' ' + n.name + (n.sub ? ' on ' + n.sub : '')));
        svgEl.append(g);
    }
}

function drawHosts(grid, hosts) {
    grid.replaceChildren();
    const bars = new Map();
    for (const h of hosts) {
        const tile = el('button', 'host');
        tile.dataset.entity = h.name;
        tile.title = `${h.name}: ${h.profile}, ${h.cpus} CPUs, ${h.memory_gib} GiB` +
            (h.gpus ? `, ${h.gpus} GPUs` : '');
        tile.append(el('span', 'host-name', h.name));
        const bar = el('span', 'bar');
        const fill = el('i');
        bar.append(fill);
        tile.append(bar);
        grid.append(tile);
        bars.set(h.name, fill);
    }
    return bars;
}

// The world view. onSelect(name) when an entity is clicked.
export class WorldView {
    constructor(root, onSelect) {
        this.root = root;
        this.graphEl = root.querySelector('#graph');
        this.hostsEl = root.querySelector('#hosts');
        this.filterEl = root.querySelector('#host-filter');
        this.byName = new Map(); // entity name -> elements standing for it
        this.states = new Map(); // entity name -> state
        this.bars = new Map();
        root.addEventListener('click', (e) => {
            const t = e.target.closest('[data-entity]');
            if (t)
                onSelect(t.dataset.entity);
        });
        root.addEventListener('keydown', (e) => {
            const t = e.target.closest('[data-entity]');
            if (t && (e.key === 'Enter' || e.key === ' ')) {
                e.preventDefault();
                onSelect(t.dataset.entity);
            }
        });
        this.filterEl.addEventListener('input', () => this.filter());
    }

    build(graph) {
        drawGraph(this.graphEl, graph);
        this.bars = drawHosts(this.hostsEl, graph.hosts);
        this.byName.clear();
        for (const e of this.root.querySelectorAll('[data-entity]')) {
            const list = this.byName.get(e.dataset.entity) || [];
            list.push(e);
            this.byName.set(e.dataset.entity, list);
        }
        this.root.querySelector('#host-count').textContent = String(graph.hosts.length);
        this.states.clear();
    }

    // Entities from GET /api/world (or the stream's world event); touches changed ones only.
    setStates(entities) {
        for (const en of entities) {
            if (this.states.get(en.name) === en.state)
                continue;
            this.states.set(en.name, en.state);
            for (const e of this.byName.get(en.name) || []) {
                e.classList.remove('st-healthy', 'st-degrading', 'st-critical', 'st-custom');
                e.classList.add(stateClass(en.state));
                e.dataset.state = en.state;
            }
        }
    }

    // Per-host CPU from an aggregate: the bar in each tile. A transform, not a width, and
    // only when the rounded value moved: 200 bars cost no layout and little paint.
    setLoad(hosts) {
        for (const h of hosts || []) {
            const fill = this.bars.get(h.name);
            if (!fill || typeof h.cpu !== 'number')
                continue;
            const pct = Math.round(Math.min(1, Math.max(0, h.cpu)) * 50) / 50;
            if (fill.pct !== pct) {
                fill.pct = pct;
                fill.style.transform = `scaleX(${pct})`;
            }
        }
    }

    select(name) {
        for (const e of this.root.querySelectorAll('.selected'))
            e.classList.remove('selected');
        for (const e of this.byName.get(name) || [])
            e.classList.add('selected');
    }

    filter() {
        const q = this.filterEl.value.trim().toLowerCase();
        for (const tile of this.hostsEl.children)
            tile.hidden = q !== '' && !tile.dataset.entity.toLowerCase().includes(q);
    }
}
