// warren: drive warren sandboxes from JavaScript/TypeScript (Node 20+, no dependencies).
//
//   import { Warren } from 'warren-sdk';
//   const w = new Warren();                       // WARREN_URL / WARREN_API_KEY
//   await w.withSandbox({ image: 'python:3.12' }, async (sb) => {
//     console.log((await sb.exec(['python3', '-c', 'print(6*7)'])).stdout);
//   });

export { Warren } from './client.js';
export { Sandbox, Files } from './sandbox.js';
export { CommandHandle } from './process.js';
export { Terminal } from './terminal.js';
export { VERSION } from './http.js';
export * from './errors.js';
