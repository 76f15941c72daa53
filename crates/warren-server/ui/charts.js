// A tiny line chart on a <canvas>: enough for CPU and memory history, no library.

/** Draw `values` (numbers; null = gap) scaled to `max` (or their maximum). */
export function lineChart(canvas, values, { max, color, label, format = (v) => v.toFixed(1) } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 300, hgt = canvas.clientHeight || 140;
  canvas.width = w * dpr;
  canvas.height = hgt * dpr;
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue('--muted').trim() || '#888';
  const line = css.getPropertyValue('--line').trim() || '#ddd';
  color = color || css.getPropertyValue('--accent').trim() || '#2f6fed';
  const top = Math.max(max || 0, ...values.filter((v) => v != null), 1e-9);
  const pad = { l: 4, r: 4, t: 18, b: 4 };
  const W = w - pad.l - pad.r, H = hgt - pad.t - pad.b;
  g.strokeStyle = line;
  g.lineWidth = 1;
  for (let i = 0; i <= 2; i++) {
    const y = pad.t + (H * i) / 2;
    g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
  }
  g.fillStyle = fg;
  g.font = '12px system-ui, sans-serif';
  const last = [...values].reverse().find((v) => v != null);
  g.fillText(`${label}: ${last == null ? '—' : format(last)}   (max ${format(top)})`, pad.l, 12);
  if (values.length < 2) return;
  g.strokeStyle = color;
  g.lineWidth = 2;
  g.beginPath();
  let pen = false;
  values.forEach((v, i) => {
    if (v == null) { pen = false; return; }
    const x = pad.l + (W * i) / (values.length - 1);
    const y = pad.t + H - (H * v) / top;
    if (pen) g.lineTo(x, y); else g.moveTo(x, y);
    pen = true;
  });
  g.stroke();
}
