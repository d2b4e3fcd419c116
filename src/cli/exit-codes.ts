/**
 * Exit codes of the `shardfleet` command line. 0 is success and 1 any error not listed here.
 */
import { AddressInUseError } from '../common/errors.ts';

/**
 * A server could not listen because another socket holds its address (98 is EADDRINUSE's errno on
 * Linux). A launcher that picked the port itself, like `shardfleet local`, retries with another.
 */
export const EXIT_ADDRESS_IN_USE = 98;

/** The exit code for an error that ended the command: {@link EXIT_ADDRESS_IN_USE} or 1. */
export function exitCodeFor(err: unknown): number {
  return err instanceof AddressInUseError ? EXIT_ADDRESS_IN_USE : 1;
}

/**
 * `shardfleet status` read the router's Health and it is `unhealthy` (it serves no run, or no
 * shard of its run has a ready replica). `healthy` and `degraded` (serving, with reasons) exit 0.
 */
export const EXIT_UNHEALTHY = 3;
