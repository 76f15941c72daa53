// The create form: from an image or a snapshot, with resources, env, labels, network mode and
// lifecycle policy. Values go to POST /v1/sandboxes as typed: the API validates them and its
// message is shown above the button.
import { h, errorBox, parsePairs } from './dom.js';
import { get, post, enc } from './api.js';

const num = (v) => {
  v = v.trim();
  if (!v) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v; // not a number: let the API name the field
};

function field(id, label, input, hint) {
  input.id = id;
  input.name = id;
  return h('label', { for: id }, label, input, hint ? h('span', { class: 'hint' }, hint) : null);
}

export function render(main, { query }, ctx) {
  if (ctx.readOnly) {
    main.append(h('div', { class: 'empty' }, h('strong', {}, 'Read-only key'), 'Sign in with a full key to create sandboxes.'));
    return;
  }
  const err = errorBox();
  err.id = 'create-error';
  const fromSnap = query.get('snapshot');
  const srcImage = h('input', { type: 'radio', name: 'source', value: 'image', checked: !fromSnap });
  const srcSnap = h('input', { type: 'radio', name: 'source', value: 'snapshot', checked: !!fromSnap });
  const image = h('input', { type: 'text', list: 'image-list', placeholder: 'busybox, python:3.12-slim, 127.0.0.1:5000/app', autocomplete: 'off' });
  const images = h('datalist', { id: 'image-list' });
  const snapshot = h('select', {}, h('option', { value: '' }, '— choose a snapshot —'));
  const cpu = h('input', { type: 'text', inputmode: 'decimal', placeholder: '1.0' });
  const mem = h('input', { type: 'text', inputmode: 'numeric', placeholder: '512' });
  const disk = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'server default' });
  const cmd = h('input', { type: 'text', placeholder: "image's entrypoint", autocomplete: 'off' });
  const env = h('textarea', { placeholder: 'KEY=value, one a line' });
  const labels = h('textarea', { placeholder: 'team=docs, one a line' });
  const netMode = h('select', {}, ['outbound', 'restricted', 'none'].map((m) => h('option', { value: m }, m)));
  const allow = h('input', { type: 'text', placeholder: 'example.com, 10.0.0.0/8' });
  const ports = h('input', { type: 'text', placeholder: '8080, 3000' });
  const idle = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'off' });
  const idleAction = h('select', {}, h('option', { value: '' }, 'server default'), ['pause', 'hibernate', 'stop'].map((a) => h('option', { value: a }, a)));
  const ttl = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'off' });
  const autoArchive = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'off' });
  const autoDelete = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'off' });
  const submit = h('button', { class: 'primary', type: 'submit' }, 'Create sandbox');

  const imageRow = field('image', 'Image', image, 'pulled first when not local');
  const snapRow = field('snapshot', 'Snapshot', snapshot, 'its files, and its processes for a memory snapshot');
  const sync = () => { imageRow.hidden = srcSnap.checked; snapRow.hidden = !srcSnap.checked; };
  srcImage.addEventListener('change', sync);
  srcSnap.addEventListener('change', sync);

  const form = h('form', { class: 'panel', 'aria-labelledby': 'create-title', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Start from'),
      h('div', { class: 'row', role: 'radiogroup', 'aria-label': 'Start from' },
        h('label', { class: 'inline' }, srcImage, 'an image'), h('label', { class: 'inline' }, srcSnap, 'a snapshot')),
      h('div', { class: 'form-grid', style: 'margin-top:8px' }, imageRow, snapRow, images,
        field('cmd', 'Command', cmd, 'run with /bin/sh -c; empty: the image\'s'))),
    h('fieldset', {}, h('legend', {}, 'Resources'),
      h('div', { class: 'form-grid' },
        field('cpu', 'CPU cores', cpu, '0.1 – 64'), field('memory_mb', 'Memory (MiB)', mem, '16 – 1048576'),
        field('disk_mb', 'Disk quota (MiB)', disk))),
    h('fieldset', {}, h('legend', {}, 'Environment and labels'),
      h('div', { class: 'grid2' }, field('env', 'Environment', env), field('labels', 'Labels', labels))),
    h('fieldset', {}, h('legend', {}, 'Network'),
      h('div', { class: 'form-grid' }, field('network', 'Mode', netMode), field('allow', 'Allow (restricted)', allow, 'comma-separated'),
        field('public_ports', 'Public ports', ports, 'served by the preview proxy without a token'))),
    h('fieldset', {}, h('legend', {}, 'Lifecycle'),
      h('div', { class: 'form-grid' }, field('idle_timeout_s', 'Idle timeout (s)', idle), field('idle_action', 'When idle', idleAction),
        field('auto_archive_after_s', 'Archive after (s)', autoArchive), field('auto_delete_after_s', 'Delete after (s)', autoDelete),
        field('ttl_s', 'Time to live (s)', ttl))),
    err,
    h('div', { class: 'row' }, h('a', { href: '#/sandboxes' }, 'Cancel'), h('span', { class: 'spacer' }), submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    let body;
    try {
      body = {
        cpu: num(cpu.value), memory_mb: num(mem.value), disk_mb: num(disk.value),
        env: parsePairs(env.value, 'Environment'), labels: parsePairs(labels.value, 'Labels'),
      };
      if (srcSnap.checked) {
        if (!snapshot.value) throw new Error('Choose a snapshot to start from.');
        body.snapshot = snapshot.value;
      } else {
        body.image = image.value.trim();
      }
      if (cmd.value.trim()) body.cmd = ['/bin/sh', '-c', cmd.value];
      const list = (v) => v.split(',').map((x) => x.trim()).filter(Boolean);
      if (netMode.value !== 'outbound' || allow.value.trim()) {
        body.network = { mode: netMode.value, allow: list(allow.value) };
      }
      if (ports.value.trim()) body.public_ports = list(ports.value).map((p) => num(p));
      const lc = {
        idle_timeout_s: num(idle.value), idle_action: idleAction.value || undefined, ttl_s: num(ttl.value),
        auto_archive_after_s: num(autoArchive.value), auto_delete_after_s: num(autoDelete.value),
      };
      if (Object.values(lc).some((v) => v !== undefined)) body.lifecycle = lc;
    } catch (e2) {
      err.show(e2);
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const sb = await post('/v1/sandboxes', body);
      ctx.go(`#/sandbox/${sb.id}`);
    } catch (e2) {
      err.show(e2);
      // The API names the field first ("memory_mb: 1 is outside …"): mark that input.
      const field = /^([a-z_]+)[:\s]/.exec(e2.message || '')?.[1];
      const input = field && form.querySelector(`[name="${field}"]`);
      if (input) { input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', 'create-error'); input.focus(); } else err.scrollIntoView({ block: 'nearest' });
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create sandbox';
    }
  });

  main.append(h('h1', { id: 'create-title' }, 'New sandbox'), form);
  sync();
  (srcSnap.checked ? snapshot : image).focus();
  get('/v1/images').then((l) => images.replaceChildren(...l.items.map((i) => h('option', { value: i.reference })))).catch(() => {});
  get('/v1/snapshots?limit=500').then((l) => {
    for (const s of l.items.filter((s) => s.state === 'ready')) {
      snapshot.append(h('option', { value: s.id }, `${s.name || s.id}${s.memory ? ' (memory)' : ''} — from ${s.source_sandbox || s.image}`));
    }
    if (fromSnap) snapshot.value = fromSnap;
  }).catch((e) => err.show(e));
}
