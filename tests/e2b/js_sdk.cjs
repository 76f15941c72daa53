// The unmodified `e2b` JavaScript SDK (npm e2b@2.51.0) against warren: create, run, files.
// Run by crates/warren/tests/e2b_e2e.rs with NODE_PATH=tests/clients/node_modules and
// E2B_API_URL / E2B_SANDBOX_URL / E2B_API_KEY set; any failure exits non-zero.
const assert = require('node:assert/strict')
const { Sandbox, CommandExitError } = require('e2b')

async function main() {
  const sbx = await Sandbox.create({ timeoutMs: 120_000, metadata: { sdk: 'js' } })
  console.log('created', sbx.sandboxId)
  try {
    const r = await sbx.commands.run('echo js-$((6*7)); echo oops >&2')
    assert.equal(r.exitCode, 0)
    assert.equal(r.stdout, 'js-42\n')
    assert.equal(r.stderr, 'oops\n')

    const lines = []
    await sbx.commands.run('for i in a b c; do echo $i; sleep 0.2; done', {
      onStdout: (d) => lines.push(d.trim()),
    })
    assert.deepEqual(lines.join('').replace(/\s+/g, ''), 'abc')

    await assert.rejects(sbx.commands.run('exit 3'), (e) => e instanceof CommandExitError && e.exitCode === 3)

    await sbx.files.write('/tmp/js/note.txt', 'from node\n')
    assert.equal(await sbx.files.read('/tmp/js/note.txt'), 'from node\n')
    const names = (await sbx.files.list('/tmp/js')).map((e) => e.name)
    assert.deepEqual(names, ['note.txt'])

    // watchDir is envd's WatchDir server stream, relayed through warren to the agent.
    await sbx.files.makeDir('/tmp/jw')
    const seen = []
    const watch = await sbx.files.watchDir('/tmp/jw', (ev) => seen.push(ev), { recursive: true })
    await sbx.files.write('/tmp/jw/a.txt', 'watched\n')
    for (let i = 0; i < 50 && !seen.some((e) => e.name === 'a.txt' && e.type === 'create'); i++) {
      await new Promise((r) => setTimeout(r, 100))
    }
    await watch.stop()
    assert.ok(seen.some((e) => e.name === 'a.txt' && e.type === 'create'), JSON.stringify(seen))

    const info = await sbx.getInfo()
    assert.equal(info.sandboxId, sbx.sandboxId)
    assert.equal(info.state, 'running')
    assert.deepEqual(info.metadata, { sdk: 'js' })
  } finally {
    await sbx.kill()
  }
  const left = await Sandbox.list({ query: { metadata: { sdk: 'js' } } }).nextItems()
  assert.deepEqual(left, [])
  console.log('ok')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
