/**
 * The `shardfleet` command line.
 */
import { exitCodeFor } from './exit-codes.ts';
import { buildProgram } from './program.ts';

buildProgram()
  .parseAsync(process.argv)
  .catch(async (err: unknown) => {
    // Imported here, not at the top: it loads @grpc/grpc-js, which `--help` does not need.
    const { describeGrpcError } = await import('../common/grpc-status.ts');
    const name = err instanceof Error ? err.name : 'Error';
    process.stderr.write(`shardfleet: ${name}: ${describeGrpcError(err)}\n`);
    process.exit(exitCodeFor(err));
  });
