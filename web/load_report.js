/* diorama load HTML report: draws the charts from the JSON embedded in the page
 * (the element with id load-data, schema docs/load-json.md) with the embedded uPlot. The
 * summary tables are rendered by the C side, so the numbers read without JavaScript too.
 * This file is inlined into a script element: keep tag-like text out of it. */
(function () {
    'use strict';
    var data = JSON.parse(document.getElementById('load-data').textContent);
    var colors = { p50: '#2b8a3e', p90: '#1971c2', p99: '#e8590c', max: '#c92a2a' };

    function ms(us) {
        return us === null || us === undefined ? null : us / 1000;
    }

    function chartWidth(el) {
        return Math.max(320, Math.min(1100, el.clientWidth || 900));
    }

    function noData(el, what) {
        el.className += ' empty';
        el.textContent = 'No ' + what + ' to chart.';
    }

    /* One y axis for every latency line: max is drawn on the same scale as the percentiles,
     * so it always sits above p99. Over time the scale is logarithmic, as latency plots
     * usually are, so a 5 s outlier does not flatten a 2 ms median into the floor. */
    function msAxis(label) {
        return {
            label: label || 'latency (ms)',
            size: 70,
            values: function (u, splits) {
                return splits.map(function (v) { return v === null ? '' : +v.toPrecision(4) + ''; });
            }
        };
    }

    function line(label, color, unit, dash) {
        var s = { label: label, stroke: color, width: 1.5, spanGaps: false,
            value: function (u, v) { return v === null ? '-' : v.toFixed(2) + ' ' + unit; } };
        if (dash)
            s.dash = dash;
        return s;
    }

    /* The timeline is by the second requests were due (docs/load-json.md): entry i covers
     * [t_s, t_s + width_s). Points sit in the middle of their interval and the x axis spans
     * exactly the run's schedule, from 0 to the end of the last interval. */
    var tl = data.timeline || [];
    function width(s) { return s.width_s > 0 ? s.width_s : 1; }
    var xs = tl.map(function (s) { return s.t_s + width(s) / 2; });
    var xEnd = tl.length ? tl[tl.length - 1].t_s + width(tl[tl.length - 1]) : 0;
    var xAxis = { label: 'seconds since start (requests by the second they were due)' };

    function overTime(id, title, yAxis, series, cols, yScale) {
        var el = document.getElementById(id);
        if (tl.length < 2)
            return noData(el, 'timeline');
        return new uPlot({
            title: title, width: chartWidth(el), height: 280,
            scales: { x: { time: false, range: [0, xEnd] }, y: yScale || {} },
            axes: [xAxis, yAxis],
            series: [{ label: 't (s)' }].concat(series)
        }, [xs].concat(cols), el);
    }

    function timeChart() {
        var cols = ['p50_us', 'p90_us', 'p99_us', 'max_us'].map(function (k) {
            return tl.map(function (s) { return ms(s[k]); });
        });
        return overTime('chart-time', 'Latency over time (from the intended send time)',
            msAxis('latency (ms, log scale)'), [line('p50', colors.p50, 'ms'),
                line('p90', colors.p90, 'ms'), line('p99', colors.p99, 'ms'),
                line('max', colors.max, 'ms', [6, 4])], cols, { distr: 3 });
    }

    function perSecond(k) {
        return tl.map(function (s) { return s[k] === undefined ? null : s[k] / width(s); });
    }

    function rateChart() {
        /* sent and done are already per second in the JSON */
        var cols = [tl.map(function (s) { return s.sent; }), tl.map(function (s) { return s.done; })];
        return overTime('chart-rate', 'Request rate (per second)', { label: 'requests / s', size: 70 },
            [line('sent', colors.p90, '/s'), line('responses', colors.p50, '/s', [6, 4])], cols);
    }

    function errorChart() {
        return overTime('chart-errors', 'Errors and late sends (per second)',
            { label: 'requests / s', size: 70 },
            [line('errors', colors.max, '/s'), line('late', colors.p99, '/s', [6, 4])],
            [perSecond('errors'), perSecond('late')]);
    }

    /* x = log10(1/(1-p)): 0 -> "0%", 1 -> "90%", 2 -> "99%", 3 -> "99.9%" (HdrHistogram's
     * percentile plots). Plotted on a linear scale with integer splits, so labels stay exact. */
    function pctLabel(x) {
        return +(100 * (1 - Math.pow(10, -x))).toPrecision(6) + '%';
    }

    function distChart() {
        var el = document.getElementById('chart-dist');
        var pts = (data.latency_distribution || []).filter(function (d) { return d[0] < 100; });
        if (pts.length < 2)
            return noData(el, 'latency distribution');
        var x = pts.map(function (d) { return -Math.log10(1 - d[0] / 100); });
        var y = pts.map(function (d) { return ms(d[1]); });
        var top = Math.ceil(x[x.length - 1]);
        return new uPlot({
            title: 'Latency by percentile',
            width: chartWidth(el), height: 320,
            scales: { x: { time: false, range: [0, Math.max(1, top)] } },
            axes: [{
                label: 'percentile',
                splits: function () {
                    var s = [];
                    for (var i = 0; i <= Math.max(1, top); i++)
                        s.push(i);
                    return s;
                },
                values: function (u, splits) { return splits.map(pctLabel); }
            }, msAxis()],
            series: [{
                label: 'percentile',
                value: function (u, v) { return v === null ? '-' : pctLabel(v); }
            }, line('latency', colors.p99, 'ms')]
        }, [x, y], el);
    }

    var charts = [timeChart(), rateChart(), errorChart(), distChart()];
    /* for tests and for the curious: the uPlot instances, by holder id */
    window.dioramaCharts = {};
    charts.forEach(function (c) {
        if (c)
            window.dioramaCharts[c.root.parentNode.id] = c;
    });
    window.addEventListener('resize', function () {
        charts.forEach(function (c) {
            if (c)
                c.setSize({ width: chartWidth(c.root.parentNode), height: c.height });
        });
    });
    document.body.setAttribute('data-charts', String(charts.filter(Boolean).length));
})();
