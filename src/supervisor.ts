import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { constants } from 'node:os';
import { HealthgateError } from './errors';

/** Node's spawn, injectable for tests that want to see what would be started. */
export type SpawnFunction = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** A command that could not be started: exit 127 (not found) or 126 (not executable). */
export class StartError extends HealthgateError {
  constructor(
    message: string,
    readonly exitCode: 126 | 127,
  ) {
    super('HG_USAGE', message);
  }
}

/** Options of the child: its command, extra environment and how signals reach it. */
export interface SupervisorOptions {
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Send signals to the child's whole process group rather than the child alone. */
  readonly signalGroup: boolean;
  readonly spawn?: SpawnFunction;
}

/**
 * The app started as the backend, in its own process group (so that a terminal's Ctrl-C reaches it
 * once, through us), with stdio passed through. `exited` resolves with the exit code healthgate
 * should use: the child's, or 128 + the signal's number when a signal ended it.
 */
export class Supervisor {
  private child: ChildProcess | undefined;
  private exitCode: number | undefined;
  private resolveExit!: (code: number) => void;
  /** Resolves with the child's exit code once it has exited. */
  readonly exited: Promise<number> = new Promise((resolve) => (this.resolveExit = resolve));
  private resolveSettled!: () => void;
  /** Resolves once start() has spawned the child or failed to, or skipStart() said it will not run. */
  readonly settled: Promise<void> = new Promise((resolve) => (this.resolveSettled = resolve));

  constructor(private readonly options: SupervisorOptions) {}

  /** True once start() has spawned (or tried to spawn) the child. */
  get started(): boolean {
    return this.child !== undefined;
  }

  /** True until the child has exited. */
  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The command as one line, for logs. */
  get commandLine(): string {
    return this.options.command.join(' ');
  }

  /** Says that start() will not be called (a shutdown came first): `settled` resolves. */
  skipStart(): void {
    this.resolveSettled();
  }

  /** Starts the child; rejects with StartError when the command cannot be started. */
  start(): Promise<void> {
    const [command, ...args] = this.options.command;
    const spawn = this.options.spawn ?? nodeSpawn;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { stdio: 'inherit', detached: true, env: this.options.env });
      this.child = child;
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = err.code === 'ENOENT' ? 127 : 126;
        const why = err.code === 'ENOENT' ? 'command not found' : `cannot execute (${err.code ?? err.message})`;
        reject(new StartError(`${command}: ${why}`, this.exitCode as 126 | 127));
        this.resolveExit(this.exitCode);
        this.resolveSettled();
      });
      child.once('spawn', () => {
        process.on('exit', this.killOnExit);
        this.resolveSettled();
        resolve();
      });
      child.once('exit', (code, signal) => {
        process.removeListener('exit', this.killOnExit);
        this.exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
        this.resolveExit(this.exitCode);
      });
    });
  }

  // SPEC: whatever ends healthgate, its child does not outlive it. 'exit' runs on process.exit()
  // and after an uncaught exception, so a crash kills the child's group too (synchronously: it is
  // the last thing the process does). A SIGKILL of healthgate itself runs nothing: see
  // docs/security.md.
  private readonly killOnExit = (): void => {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is gone already.
    }
  };

  /** Passes a signal on to the child (or its group); does nothing once it has exited. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running) return;
    try {
      process.kill(this.options.signalGroup ? -pid : pid, signal);
    } catch {
      // ESRCH: it exited between our check and the kill; its exit event is on its way.
    }
  }
}

/** SPEC: the child's environment is ours plus PORT and each --child-port-env name set to the backend port. */
export function childEnvironment(
  base: NodeJS.ProcessEnv,
  config: { readonly backendPort: number; readonly childPortEnv: readonly string[] },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of ['PORT', ...config.childPortEnv]) env[name] = String(config.backendPort);
  return env;
}
