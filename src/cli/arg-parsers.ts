/**
 * commander argument parsers.
 */
import { InvalidArgumentError } from 'commander';

/** Parses a non-negative integer flag value. @throws InvalidArgumentError otherwise. */
export function intArg(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not a non-negative integer`);
  return Number.parseInt(value, 10);
}
