/**
 * commander argument parsers.
 */
import { InvalidArgumentError } from 'commander';

/** Parses a non-negative integer flag value. @throws InvalidArgumentError otherwise. */
export function intArg(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not a non-negative integer`);
  return Number.parseInt(value, 10);
}

/** Parses a number >= 1 (e.g. a balance factor). @throws InvalidArgumentError otherwise. */
export function factorArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a number >= 1`);
  return n;
}

/** Parses a comma-separated list of names (empty items dropped). */
export function listArg(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Parses a recall value in (0, 1] (e.g. `--target-recall 0.95`). @throws InvalidArgumentError otherwise. */
export function recallArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError(`"${value}" is not a recall in (0, 1]`);
  return n;
}

/** Parses a fraction in [0, 1] (e.g. `--live-recall-fraction 0.01`). @throws InvalidArgumentError otherwise. */
export function fractionArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`"${value}" is not a fraction in [0, 1]`);
  return n;
}

/** Parses a finite number > 0 (e.g. a rate per second). @throws InvalidArgumentError otherwise. */
export function positiveArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a number > 0`);
  return n;
}
