/**
 * The `shardfleet` command tree, built without parsing anything (main.ts parses `process.argv`;
 * tests walk the tree).
 */
import type { Command } from 'commander';
import { WRITER_VERSION } from '../common/version.ts';
import { aliasCommand } from './alias-commands.ts';
import { buildCommand, publishCommand } from './build-command.ts';
import { ShardfleetCommand } from './env-options.ts';
import { cleanupCommand, historyCommand, rollbackCommand } from './history-commands.ts';
import { localCommand } from './local-command.ts';
import { infoCommand, searchCommand } from './search-command.ts';
import { getCommand } from './get-command.ts';
import { serveCommand } from './serve-commands.ts';
import { routeCommand, shardsCommand, statusCommand } from './status-commands.ts';

/**
 * The `shardfleet` program with every command. Every option of every command reads
 * `SHARDFLEET_<FLAG>` from the environment (see env-options.ts).
 */
export function buildProgram(): Command {
  return new ShardfleetCommand('shardfleet')
    .description('distributed vector search over sharded, immutable snapshots in S3 or a local folder')
    .version(WRITER_VERSION)
    .addCommand(buildCommand())
    .addCommand(publishCommand())
    .addCommand(serveCommand())
    .addCommand(localCommand())
    .addCommand(searchCommand())
    .addCommand(getCommand())
    .addCommand(infoCommand())
    .addCommand(statusCommand())
    .addCommand(shardsCommand())
    .addCommand(routeCommand())
    .addCommand(historyCommand())
    .addCommand(rollbackCommand())
    .addCommand(cleanupCommand())
    .addCommand(aliasCommand());
}
