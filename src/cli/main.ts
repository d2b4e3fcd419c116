/**
 * The `shardfleet` command line.
 */
import { Command } from 'commander';
import { describeGrpcError } from '../common/grpc-status.ts';
import { WRITER_VERSION } from '../common/version.ts';
import { buildCommand, publishCommand } from './build-command.ts';
import { exitCodeFor } from './exit-codes.ts';
import { cleanupCommand, historyCommand, rollbackCommand } from './history-commands.ts';
import { localCommand } from './local-command.ts';
import { infoCommand, searchCommand } from './search-command.ts';
import { serveCommand } from './serve-commands.ts';

const program = new Command('shardfleet')
  .description('distributed vector search over sharded, immutable snapshots in S3 or a local folder')
  .version(WRITER_VERSION)
  .addCommand(buildCommand())
  .addCommand(publishCommand())
  .addCommand(serveCommand())
  .addCommand(localCommand())
  .addCommand(searchCommand())
  .addCommand(infoCommand())
  .addCommand(historyCommand())
  .addCommand(rollbackCommand())
  .addCommand(cleanupCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  const name = err instanceof Error ? err.name : 'Error';
  process.stderr.write(`shardfleet: ${name}: ${describeGrpcError(err)}\n`);
  process.exit(exitCodeFor(err));
});
