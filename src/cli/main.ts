/**
 * The `shardfleet` command line.
 */
import { describeGrpcError } from '../common/grpc-status.ts';
import { exitCodeFor } from './exit-codes.ts';
import { buildProgram } from './program.ts';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const name = err instanceof Error ? err.name : 'Error';
    process.stderr.write(`shardfleet: ${name}: ${describeGrpcError(err)}\n`);
    process.exit(exitCodeFor(err));
  });
