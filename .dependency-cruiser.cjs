// @ts-check
//
// Layers of lib/, bottom to top. Each layer may import only from its own
// layer or from the layers below it; nothing in lib/ may form a cycle.
//
//   1 core        lib/task/, lib/errors/, lib/tracing/, lib/tasks.messages.ts,
//                 lib/tasks.constants.ts, lib/optional-peer.ts
//   2 execution   lib/execution/
//   3 backends    lib/backends/ (contracts in lib/backends/*.ts, concrete
//                 backends in lib/backends/<name>/) and lib/typeorm/
//   4 services    lib/discovery/, lib/dispatch/, lib/transactions/,
//                 lib/events/, lib/worker/, lib/interfaces/
//   5 surface     lib/tasks.module.ts, lib/task-queue.service.ts,
//                 lib/tasks.lifecycle.ts, lib/index.ts, lib/decorators/,
//                 lib/cli/, lib/testing/, lib/terminus/, lib/bullmq/,
//                 lib/dashboard/
//
// Each rule's comment says what to do about a violation; `npm run
// lint:layers` (part of `npm run lint`) prints it under the violation.

const CORE =
  '^lib/(task/|errors/|tracing/|tasks\\.messages\\.ts$|tasks\\.constants\\.ts$|optional-peer\\.ts$)';
const EXECUTION = '^lib/execution/';
const BACKENDS = '^lib/(backends|typeorm)/';
const SERVICES =
  '^lib/(discovery|dispatch|transactions|events|worker|interfaces)/';
const SURFACE =
  '^lib/(tasks\\.module\\.ts$|task-queue\\.service\\.ts$|tasks\\.lifecycle\\.ts$|index\\.ts$|decorators/|cli/|testing/|terminus/|bullmq/|dashboard/)';
const LAYERS = [CORE, EXECUTION, BACKENDS, SERVICES, SURFACE];

// A concrete backend: anything in a subfolder of lib/backends/.
const CONCRETE_BACKEND = '^lib/backends/[^/]+/';
const NESTJS = '(^|/)node_modules/@nestjs/|^@nestjs/';
const NPM_PACKAGE = '(^|/)node_modules/';

/**
 * A rule that keeps `from` from importing concrete backends (`to`, by
 * default any file of lib/backends/<name>/, described as `what`); its
 * comment names the importer (`who`) and what to do `instead`.
 * @param {{ name: string, from: string, who: string, instead: string, to?: string, what?: string }} rule
 * @returns {import('dependency-cruiser').IForbiddenRuleType}
 */
function noConcreteBackends({
  name,
  from,
  who,
  instead,
  to = CONCRETE_BACKEND,
  what = 'a concrete backend (lib/backends/<name>/)',
}) {
  return {
    name,
    comment: `${who} does not import ${what}. ${instead}`,
    severity: 'error',
    from: { path: from },
    to: { path: to },
  };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-only-core',
      comment:
        'Core (lib/task/, lib/errors/, lib/tracing/, lib/tasks.messages.ts, ' +
        'lib/tasks.constants.ts) is the bottom layer and imports only core. ' +
        'Move the imported declaration down into core, or move this code up ' +
        'into the layer that owns what it needs.',
      severity: 'error',
      from: { path: CORE },
      to: { path: '^lib/', pathNot: CORE },
    },
    {
      name: 'core-no-nestjs',
      comment:
        'Core imports no @nestjs/* package, not even for types. Keep core ' +
        'plain TypeScript; put injectables, modules and decorators in a ' +
        'higher layer.',
      severity: 'error',
      from: { path: CORE },
      to: { path: NESTJS },
    },
    {
      name: 'execution-imports-only-core',
      comment:
        'Execution (lib/execution/) imports only core and execution. Move the ' +
        'imported declaration into core, or move this code up into a backend ' +
        'or service.',
      severity: 'error',
      from: { path: EXECUTION },
      to: { path: '^lib/', pathNot: [CORE, EXECUTION] },
    },
    {
      name: 'execution-no-packages',
      comment:
        'Execution (lib/execution/) imports only core and node builtins: no ' +
        'npm package, in particular no @nestjs/*. Move the code that needs the ' +
        'package up into a backend or service.',
      severity: 'error',
      from: { path: EXECUTION },
      to: { path: NPM_PACKAGE },
    },
    {
      name: 'backends-import-only-lower-layers',
      comment:
        'Backends (lib/backends/, lib/typeorm/) import only core, execution, ' +
        'lib/backends/ and lib/typeorm/: never worker/, transactions/, ' +
        'discovery/, dispatch/, events/, interfaces/, cli/, testing/ or the ' +
        'module files. Move the needed declaration down (into core or a ' +
        'contract in lib/backends/*.ts), or have the higher layer pass it in.',
      severity: 'error',
      from: { path: BACKENDS },
      to: { path: '^lib/', pathNot: [CORE, EXECUTION, BACKENDS] },
    },
    {
      name: 'concrete-backends-independent',
      comment:
        'A concrete backend (lib/backends/<name>/) does not import another ' +
        'one. Share code through the contracts in lib/backends/*.ts, core or ' +
        'execution.',
      severity: 'error',
      from: { path: '^lib/backends/([^/]+)/' },
      to: { path: CONCRETE_BACKEND, pathNot: '^lib/backends/$1/' },
    },
    {
      name: 'services-import-only-lower-layers',
      comment:
        'Services (lib/discovery/, dispatch/, transactions/, events/, worker/, ' +
        'interfaces/) import core, execution, backends and each other, never ' +
        'the surface (tasks.module.ts, task-queue.service.ts, ' +
        'tasks.lifecycle.ts, index.ts, decorators/, cli/, testing/, ' +
        'terminus/). Move the ' +
        'imported declaration down, or move this code up into the surface.',
      severity: 'error',
      from: { path: SERVICES },
      to: { path: '^lib/', pathNot: [CORE, EXECUTION, BACKENDS, SERVICES] },
    },
    noConcreteBackends({
      name: 'services-no-concrete-backends',
      from: SERVICES,
      who:
        'A service (lib/discovery/, dispatch/, transactions/, events/, ' +
        'worker/, interfaces/)',
      instead:
        'Depend on the contracts in lib/backends/*.ts (add one there for ' +
        'what the service needs) and get the concrete piece injected: a ' +
        'token in lib/tasks.constants.ts that lib/tasks.module.ts provides ' +
        '(as TASKS_OUTBOX_STORE_OPENER, TASKS_DEFAULT_BACKENDS), or the ' +
        'configured backend itself.',
    }),
    noConcreteBackends({
      name: 'cli-no-concrete-backends',
      from: '^lib/cli/',
      who: 'The CLI (lib/cli/)',
      instead:
        'Work through the contracts in lib/backends/*.ts on the application ' +
        'context it boots.',
    }),
    noConcreteBackends({
      name: 'module-no-concrete-backends',
      from: '^lib/tasks\\.module\\.ts$',
      who: 'lib/tasks.module.ts',
      to: '^lib/backends/[^/]+/.*\\.backend\\.ts$',
      what: 'a concrete backend class (lib/backends/<name>/*.backend.ts)',
      instead:
        'Wire backends through the contracts in lib/backends/*.ts; move ' +
        'backend-specific wiring into that backend (its static ' +
        'moduleImports()), or into another file of its folder that the ' +
        'module provides by a token (as immediate/default-backends.ts).',
    }),
    {
      name: 'terminus-only-in-its-entry-point',
      comment:
        '@nestjs/terminus is an optional peer: only lib/terminus/ (the ' +
        'nestjs-tasks/terminus entry point) imports it, and nothing else in ' +
        'lib/ imports lib/terminus/, so apps without it never load it. Move ' +
        'the code that needs it into lib/terminus/.',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/terminus/' },
      to: { path: ['(^|/)node_modules/@nestjs/terminus/', '^lib/terminus/'] },
    },
    {
      name: 'lib-file-in-a-layer',
      comment:
        'This file in lib/ belongs to no layer of .dependency-cruiser.cjs, ' +
        'so its imports go unchecked. Move it into a layer folder, or add its ' +
        'path to the right layer there.',
      severity: 'error',
      from: { path: '^lib/', pathNot: LAYERS },
      to: {},
    },
    {
      name: 'lib-import-in-a-layer',
      comment:
        'The imported file in lib/ belongs to no layer of ' +
        '.dependency-cruiser.cjs, so its imports go unchecked. Move it into a ' +
        'layer folder, or add its path to the right layer there.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^lib/', pathNot: LAYERS },
    },
    {
      name: 'no-circular',
      comment:
        'This import closes a cycle in lib/. Break it: move the shared ' +
        'declaration into the lower module or layer, or invert the ' +
        'dependency. Cycles made only of type imports (two classes that ' +
        'name each other, e.g. TaskDefinition and TaskResult) are erased at ' +
        'compile time and allowed.',
      severity: 'error',
      from: { path: '^lib/' },
      to: {
        circular: true,
        viaOnly: { dependencyTypesNot: ['type-only'] },
      },
    },
    {
      name: 'lib-not-to-test-sample-bench',
      comment:
        'lib/ does not import from test/, sample/ or bench/ (they are not ' +
        'published). Move the code into lib/ if the library needs it.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(test|sample|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        'This import in lib/ does not resolve to a file, so the layer rules ' +
        'cannot check it. Fix the specifier (a relative import ends in .js ' +
        'and names an existing .ts file), or install the missing package.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports (`import type`, `import('./x.js').T`) count too.
    tsPreCompilationDeps: true,
    // Report packages as node_modules/..., also where node_modules is a
    // symlink (git worktrees).
    preserveSymlinks: true,
    // NodeNext: a relative `./x.js` names `./x.ts`. dependency-cruiser
    // resolves that itself (it retries a missing .js as .ts/.d.ts; its schema
    // does not accept enhanced-resolve's extensionAlias), and the rule
    // not-to-unresolvable above fails the run if any import stays unresolved.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'require', 'node', 'default'],
      mainFields: ['types', 'typings', 'module', 'main'],
      extensions: ['.ts', '.cts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
