// Live dashboard: polls GET /metrics/window about once a second and redraws one uPlot chart per label
// and the table. Polling (not SSE) because the page shows aggregates the server recomputes anyway: one
// small stateless request per second, no per-client server state, and it recovers by itself after a
// server restart. `window.dashboard` exposes the charts and the last answer for tests and debugging.
(() => {
  const POLL_MS = 1000;
  const REQUEST_TIMEOUT_MS = 5000;
  const CHART_HEIGHT = 220;
  const COUNT_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6];
  const COLORS = ['#0969da', '#1a7f37', '#bf3989', '#9a6700', '#8250df', '#cf222e', '#1b7c83', '#57606a'];
  const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3, useGrouping: false });

  const rowsEl = document.getElementById('metrics-rows');
  const chartsEl = document.getElementById('charts');
  const statusEl = document.getElementById('status');
  const emptyEl = document.getElementById('empty');
  const captionEl = document.getElementById('window-caption');
  const totalCountEl = document.getElementById('total-count');
  const totalSumEl = document.getElementById('total-sum');

  /** label → { box, plot, chart }; `dashboard.charts` mirrors it as label → uPlot instance. */
  const charts = new Map();
  const dashboard = { charts: {}, last: null, updates: 0, lastError: null };
  window.dashboard = dashboard;

  function format(value) {
    return value === null || value === undefined ? '–' : number.format(value);
  }

  function setNumber(el, value) {
    el.dataset.value = value === null || value === undefined ? '' : String(value);
    el.textContent = format(value);
  }

  function colorOf(label) {
    let h = 0;
    for (let i = 0; i < label.length; i++) h = (h * 31 + label.charCodeAt(i)) >>> 0;
    return COLORS[h % COLORS.length];
  }

  /** uPlot data: x in seconds (bucket starts), then the average and the count per bucket. */
  function chartData(buckets, series) {
    return [buckets.bucketStartMs.map((ms) => ms / 1000), series.average, series.count];
  }

  function createChart(label, data) {
    const box = document.createElement('section');
    box.className = 'chart';
    box.dataset.label = label;
    const title = document.createElement('h2');
    title.textContent = label; // labels are user input: text, never HTML
    const plot = document.createElement('div');
    box.append(title, plot);
    const next = [...chartsEl.children].find((el) => el.dataset.label > label);
    chartsEl.insertBefore(box, next ?? null);
    const color = colorOf(label);
    const chart = new uPlot(
      {
        width: Math.max(plot.clientWidth, 300),
        height: CHART_HEIGHT,
        scales: { x: { time: true }, count: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        series: [
          {},
          { label: 'average', scale: 'y', stroke: color, width: 2, spanGaps: true, points: { show: true } },
          {
            label: 'count',
            scale: 'count',
            fill: 'rgba(140, 149, 159, 0.3)',
            width: 0,
            paths: uPlot.paths.bars({ size: [0.8, 40] }),
            points: { show: false },
          },
        ],
        axes: [
          {},
          { scale: 'y', label: 'average' },
          { scale: 'count', label: 'count', side: 1, grid: { show: false }, incrs: COUNT_TICKS },
        ],
      },
      data,
      plot,
    );
    return { box, plot, chart };
  }

  function renderCharts(body) {
    const series = body.buckets.series;
    for (const [label, entry] of charts) {
      if (series[label] === undefined) {
        entry.chart.destroy();
        entry.box.remove();
        charts.delete(label);
      }
    }
    for (const label of Object.keys(series)) {
      const data = chartData(body.buckets, series[label]);
      const entry = charts.get(label);
      if (entry === undefined) charts.set(label, createChart(label, data));
      else entry.chart.setData(data);
    }
    dashboard.charts = Object.fromEntries([...charts].map(([label, entry]) => [label, entry.chart]));
  }

  function renderTable(body) {
    const labels = Object.keys(body.labels);
    const rows = new Map([...rowsEl.children].map((tr) => [tr.dataset.label, tr]));
    for (const [label, tr] of rows) if (body.labels[label] === undefined) tr.remove();
    for (const label of labels) {
      let tr = rows.get(label);
      if (tr === undefined) {
        tr = document.createElement('tr');
        tr.dataset.label = label;
        for (const field of ['label', 'count', 'sum', 'min', 'max', 'average']) {
          const cell = document.createElement(field === 'label' ? 'th' : 'td');
          cell.dataset.field = field;
          tr.append(cell);
        }
        tr.firstChild.textContent = label;
      }
      // Appending an existing row moves it, which keeps the rows in the answer's (label) order.
      rowsEl.append(tr);
      const a = body.labels[label];
      for (const cell of tr.querySelectorAll('td')) setNumber(cell, a[cell.dataset.field]);
    }
    setNumber(totalCountEl, body.count);
    setNumber(totalSumEl, body.sum);
    emptyEl.hidden = labels.length > 0;
    const minutes = (body.toMs - body.fromMs) / 60000;
    captionEl.textContent = `last ${number.format(minutes)} min`;
  }

  function render(body) {
    renderTable(body);
    renderCharts(body);
    dashboard.last = body;
    dashboard.updates++;
    dashboard.lastError = null;
    statusEl.classList.remove('error');
    statusEl.dataset.updates = String(dashboard.updates);
    statusEl.textContent = `updated ${new Date(body.toMs).toLocaleTimeString()} · ${body.count} events`;
  }

  async function poll() {
    try {
      const res = await fetch('/metrics/window', { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`GET /metrics/window answered ${res.status}`);
      render(await res.json());
    } catch (err) {
      dashboard.lastError = String(err);
      statusEl.classList.add('error');
      statusEl.textContent = `cannot update: ${err.message ?? err}; retrying`;
    } finally {
      // Scheduled after the answer, so a slow server never gets overlapping polls.
      setTimeout(poll, POLL_MS);
    }
  }

  window.addEventListener('resize', () => {
    for (const { plot, chart } of charts.values()) {
      chart.setSize({ width: Math.max(plot.clientWidth, 300), height: CHART_HEIGHT });
    }
  });

  poll();
})();
