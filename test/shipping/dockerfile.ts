import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One Dockerfile instruction, continuation lines joined; `args` is the exec form's array, if any. */
export interface Instruction {
  readonly keyword: string;
  readonly text: string;
  readonly args?: readonly string[];
}

/** One `FROM` and what follows it. */
export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** Parses a Dockerfile into stages: comments dropped, `\` continuations joined, JSON arrays read. */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1).trim() + ' ';
      continue;
    }
    logical.push((pending + line).trim());
    pending = '';
  }
  const stages: Array<{ from: string; name: string | undefined; instructions: Instruction[] }> = [];
  // ARGs before the first FROM may be used in FROM lines: ${NAME} takes the ARG's default.
  const globalArgs = new Map<string, string>();
  for (const line of logical) {
    const [, keyword, rest] = /^(\S+)\s*(.*)$/.exec(line)!;
    const upper = keyword.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [name, value = ''] = rest.split('=');
      globalArgs.set(name, value);
      continue;
    }
    if (upper === 'FROM') {
      const expanded = rest.replace(
        /\$\{(\w+)\}|\$(\w+)/g,
        (_, a: string | undefined, b: string | undefined) => globalArgs.get((a ?? b)!) ?? '',
      );
      const [from, as, name] = expanded.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
      continue;
    }
    let args: string[] | undefined;
    if (rest.startsWith('[')) args = JSON.parse(rest) as string[];
    stages.at(-1)!.instructions.push({ keyword: upper, text: rest, args });
  }
  return stages;
}

/** The instructions of a stage with one keyword. */
export function only(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** A .dockerignore as a predicate over context-relative paths (`*`, `**`, `?`, and `!` exceptions). */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split(/(\*\*|\*|\?)/)
        .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('');
      // A pattern that names a folder excludes everything under it.
      return { negate, regex: new RegExp(`^${source}(?:/.*)?$`) };
    });
  return (path: string) => {
    let ignored = false;
    for (const rule of rules) if (rule.regex.test(path)) ignored = !rule.negate;
    return ignored;
  };
}

/** The Dockerfile of the repository. */
export function readDockerfile(root: string): Stage[] {
  return parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
}
