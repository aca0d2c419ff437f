import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import {
  DummyBackend,
  InvalidTaskError,
  TaskDefinition,
  TaskResult,
  TaskResultStatus,
} from '../../lib/index.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import {
  ContextTasks,
  MailService,
  MathTasks,
} from '../fixtures/tasks.fixtures.js';

// ts-jest transpiles each file on its own here (tsconfig has isolatedModules), so it does
// not report type errors. These tests run the TypeScript compiler on the type checks instead.

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const checksFile = path.join(here, 'task-queue.type-checks.ts');

function compilerOptions(): ts.CompilerOptions {
  const configPath = path.join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
  if (config.error)
    throw new Error(
      ts.flattenDiagnosticMessageText(config.error.messageText, '\n'),
    );
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  return { ...parsed.options, noEmit: true, incremental: false };
}

/** Type-checks the given files (real paths, or virtual ones given by content) and returns their diagnostics. */
function typeCheck(
  rootNames: string[],
  virtualFiles: Record<string, string> = {},
): string[] {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (file) => virtualFiles[file] ?? readFile(file);
  host.fileExists = (file) => file in virtualFiles || fileExists(file);
  host.getSourceFile = (file, language, onError, shouldCreate) =>
    file in virtualFiles
      ? ts.createSourceFile(file, virtualFiles[file], language, true)
      : getSourceFile(file, language, onError, shouldCreate);
  const program = ts.createProgram({ rootNames, options, host });
  return ts
    .getPreEmitDiagnostics(program)
    .filter(
      (diagnostic) =>
        diagnostic.file !== undefined &&
        rootNames.includes(path.resolve(diagnostic.file.fileName)),
    )
    .map((diagnostic) => {
      const { line } = diagnostic.file!.getLineAndCharacterOfPosition(
        diagnostic.start ?? 0,
      );
      const text = ts.flattenDiagnosticMessageText(
        diagnostic.messageText,
        '\n',
      );
      return `${path.basename(diagnostic.file!.fileName)}:${line + 1} TS${diagnostic.code}: ${text}`;
    });
}

describe('TaskQueue types', () => {
  it('compile as documented: every @ts-expect-error is needed and every type assertion holds', () => {
    expect(typeCheck([checksFile])).toEqual([]);
  }, 120_000);

  it('are strict enough that a wrong argument, arity or method name is a compile error', () => {
    const probe = path.join(here, '__probe__.ts');
    const source = [
      "import type { TaskQueue } from '../../lib/index.js';",
      "import { MailService } from '../fixtures/tasks.fixtures.js';",
      'export function probe(tasks: TaskQueue): void {',
      "  void tasks.enqueue(MailService, 'sendWelcome', 'not-a-number');",
      "  void tasks.enqueue(MailService, 'sendWelcome');",
      "  void tasks.task(MailService, 'greeting');",
      '}',
      '',
    ].join('\n');

    const diagnostics = typeCheck([probe], { [probe]: source });

    expect(diagnostics).toEqual([
      expect.stringMatching(/^__probe__\.ts:4 TS\d+:/),
      expect.stringMatching(/^__probe__\.ts:5 TS\d+:/),
      expect.stringMatching(/^__probe__\.ts:6 TS\d+:/),
    ]);
  }, 120_000);

  describe('at run time', () => {
    let app: BootedApp;

    beforeAll(async () => {
      app = await bootApp({
        tasks: { backends: { default: { backend: DummyBackend } } },
        providers: [MathTasks, MailService, ContextTasks],
      });
    });

    afterAll(async () => {
      await app.close();
    });

    it('resolves a typed definition to the registered task', async () => {
      const add = app.tasks.task(MathTasks, 'add');
      const result = await add.enqueue(2, 3);

      expect(add).toBeInstanceOf(TaskDefinition);
      expect(result).toBeInstanceOf(TaskResult);
      expect(result.status).toBe(TaskResultStatus.READY);
      expect(result.args).toEqual([2, 3]);
    });

    it('enqueues a takesContext task with only the caller arguments', async () => {
      const result = await app.tasks.enqueue(
        ContextTasks,
        'inspect',
        'only-label',
      );

      expect(result.args).toEqual(['only-label']);
    });

    it('refuses a method that is a valid key but not a @Task()', () => {
      expect(() => app.tasks.task(MailService, 'formatAddress')).toThrow(
        InvalidTaskError,
      );
      expect(() => app.tasks.task(MailService, 'formatAddress')).toThrow(
        /MailService\.formatAddress/,
      );
    });
  });
});
