import { readFileSync } from 'node:fs';

/**
 * A fenced code block and the comment line above it, which says how the block is kept true:
 * - `<!-- file: docs/examples/x -->`: the block is that file, whole;
 * - `<!-- run: test/shipping/y.test.ts#id -->`: that test reads the block by its id and runs it;
 * - `<!-- run: .ci/run -->`: each command of the block is a step of .ci/run;
 * - `<!-- not-run: why -->`: it needs what no machine here has (a Docker engine, a cluster);
 * blocks in `text` are output or diagrams, not for pasting.
 */
export interface CodeBlock {
  readonly lang: string;
  readonly text: string;
  readonly line: number;
  readonly marker: { kind: 'file' | 'run' | 'not-run'; value: string } | undefined;
}

const MARKER = /^<!--\s*(file|run|not-run):\s*(.*?)\s*-->$/;

/** Every fenced block of a Markdown file, with its marker. */
export function codeBlocks(path: string): CodeBlock[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    let end = i + 1;
    while (end < lines.length && lines[end] !== fence) end++;
    let above = i - 1;
    while (above >= 0 && lines[above].trim() === '') above--;
    const found = above >= 0 ? MARKER.exec(lines[above].trim()) : null;
    blocks.push({
      lang: open[2],
      text: lines.slice(i + 1, end).join('\n'),
      line: i + 1,
      marker: found ? { kind: found[1] as 'file' | 'run' | 'not-run', value: found[2] } : undefined,
    });
    i = end;
  }
  return blocks;
}

/** The block whose marker is `run: <test file>#id`, for the test that runs it. */
export function codeBlock(path: string, id: string): CodeBlock {
  const matches = codeBlocks(path).filter((b) => b.marker?.kind === 'run' && b.marker.value.endsWith(`#${id}`));
  if (matches.length !== 1) throw new Error(`${path}: expected one block marked #${id}, found ${matches.length}`);
  return matches[0];
}
