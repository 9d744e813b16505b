// The control API as the console uses it (docs/control-api.md): JSON reads and changes, and
// the live stream. The token comes from the URL fragment (#token=...), which a browser never
// sends to the server; it is kept for this tab only (sessionStorage) and removed from the
// address bar so it does not show on a projector.

const TOKEN_KEY = 'diorama.token';

function takeToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
        sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
        history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY) || '';
}

const token = takeToken();

function headers(json) {
    const h = {};
    if (token)
        h.Authorization = 'Bearer ' + token;
    if (json)
        h['Content-Type'] = 'application/json';
    return h;
}

export class ApiError extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }
}

// One request; resolves to the parsed JSON answer, rejects with ApiError naming the problem.
export async function api(method, path, body) {
    const init = { method, headers: headers(body !== undefined), cache: 'no-store' };
    if (body !== undefined)
        init.body = JSON.stringify(body);
    let res;
    try {
        res = await fetch(path, init);
    } catch (e) {
        throw new ApiError(0, 'diorama is not answering (' + e.message + ')');
    }
    const text = await res.text();
    let j = null;
    try {
        j = text ? JSON.parse(text) : null;
    } catch (e) {
        throw new ApiError(res.status, method + ' ' + path + ': not JSON (' + res.status + ')');
    }
    if (!res.ok)
        throw new ApiError(res.status, (j && j.error) || method + ' ' + path + ': ' + res.status);
    return j;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Parses one Server-Sent Events block ("event: x\ndata: ...\n") into {event, data}.
function parseBlock(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
        if (!line || line[0] === ':')
            continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + (line[i + 1] === ' ' ? 2 : 1));
        if (field === 'event')
            event = value;
        else if (field === 'data')
            data.push(value);
    }
    return data.length ? { event, data: data.join('\n') } : null;
}

// Reads GET /api/stream until it ends; one-request labels come as counts (request_labels), not
// one event each: thousands a second would cost the world's process the bytes. fetch rather
// than EventSource: EventSource cannot send the Authorization header a non-loopback listener
// needs.
async function readStream(onEvent, onState) {
    const res = await fetch('/api/stream?labels=incident', { headers: headers(false), cache: 'no-store' });
    if (!res.ok)
        throw new ApiError(res.status, 'GET /api/stream: ' + res.status);
    onState('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
        const { value, done } = await reader.read();
        if (done)
            return;
        buf += value.replace(/\r\n?/g, '\n');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = parseBlock(buf.slice(0, i));
            buf = buf.slice(i + 2);
            if (ev) {
                let data;
                try {
                    data = JSON.parse(ev.data);
                } catch (e) {
                    continue; // a malformed event is skipped, the stream goes on
                }
                onEvent(ev.event, data);
            }
        }
    }
}

// Follows the stream for as long as the page lives, reconnecting with a growing pause.
// onState('live' | 'reconnecting' | 'unavailable'); onReconnect() after a gap, so the caller
// can fetch what it missed. A listener without /api/stream (404) is reported as unavailable.
export async function follow(onEvent, onState, onReconnect) {
    let pause = 500;
    for (let first = true; ; first = false) {
        if (!first)
            onReconnect();
        const t0 = Date.now();
        try {
            await readStream(onEvent, onState);
        } catch (e) {
            if (e instanceof ApiError && e.status === 404) {
                onState('unavailable');
                return;
            }
        }
        onState('reconnecting');
        pause = Date.now() - t0 > 10000 ? 500 : Math.min(pause * 2, 8000);
        await sleep(pause);
    }
}
