/**
 * `shardfleet alias set | list | rm`: the aliases of a catalog root (`_ALIASES`, see
 * src/common/catalog/aliases.ts). Every change is one conditional write of `_ALIASES`.
 */
import type { Command } from 'commander';
import { assertCollectionName } from '../common/catalog/collection-name.ts';
import type { AliasStatus } from '../common/catalog/aliases.ts';
import { ShardfleetCommand } from './env-options.ts';
import { addStoreOptions, openExistingStoreFromFlags, type StoreFlags } from './store-options.ts';
import { renderTable } from './text-table.ts';

/** The `alias` command and its subcommands. */
export function aliasCommand(): Command {
  return new ShardfleetCommand('alias')
    .description('name collections of a catalog root by aliases (one _ALIASES object, switched by one conditional write)')
    .addCommand(aliasSetCommand())
    .addCommand(aliasListCommand())
    .addCommand(aliasRemoveCommand());
}

function aliasSetCommand(): Command {
  const cmd = new ShardfleetCommand('set')
    .description('point <alias> at <collection> (create or switch it) in one conditional write of <store>/_ALIASES')
    .argument('<alias>', 'alias name (1-64 of [A-Za-z0-9_.-]; not the name of a collection)')
    .argument('<collection>', 'collection under --store (a child prefix with _CURRENT)');
  addStoreOptions(cmd)
    .option('--allow-missing', 'accept a <collection> that has no _CURRENT yet (e.g. published next)')
    .action(async (alias: string, collection: string, flags: StoreFlags & { allowMissing?: boolean }) => {
      assertCollectionName(alias, '<alias>');
      assertCollectionName(collection, '<collection>');
      const store = await openExistingStoreFromFlags(flags);
      try {
        const { aliasesLocation, updateAliases } = await import('../common/catalog/aliases.ts');
        const res = await updateAliases(store, [{ kind: 'set', alias, collection }], { allowMissing: flags.allowMissing === true });
        const was = res.before[alias];
        const what = !res.changed ? 'unchanged' : was === undefined ? 'created' : `switched from ${was}`;
        process.stdout.write(`alias ${alias} -> ${collection} (${what}) in ${aliasesLocation(store)}\n`);
      } finally {
        await store.close();
      }
    });
  return cmd;
}

function aliasListCommand(): Command {
  const cmd = new ShardfleetCommand('list').description('list the aliases of --store (_ALIASES) with whether each collection exists');
  addStoreOptions(cmd)
    .option('--json', 'print JSON instead of a table')
    .action(async (flags: StoreFlags & { json?: boolean }) => {
      const store = await openExistingStoreFromFlags(flags);
      try {
        const { aliasStatuses, aliasesLocation, readAliases } = await import('../common/catalog/aliases.ts');
        const read = await readAliases(store);
        const statuses = await aliasStatuses(store, read.doc?.aliases ?? {});
        if (flags.json) {
          const out = {
            store: store.url,
            updated_at: read.doc?.updated_at ?? null,
            aliases: statuses.map((s) => ({ alias: s.alias, collection: s.collection, collection_exists: s.collectionExists, shadowed: s.shadowed })),
          };
          process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        } else if (read.doc === undefined) {
          process.stdout.write(`no aliases (no ${aliasesLocation(store)})\n`);
        } else if (statuses.length === 0) {
          process.stdout.write(`no aliases in ${aliasesLocation(store)} (updated ${read.doc.updated_at})\n`);
        } else {
          const rows = statuses.map((s) => [s.alias, s.collection, statusText(s)]);
          process.stdout.write(`${renderTable(['ALIAS', 'COLLECTION', 'STATUS'], rows)}\n${statuses.length} alias(es) in ${aliasesLocation(store)}, updated ${read.doc.updated_at}\n`);
        }
      } finally {
        await store.close();
      }
    });
  return cmd;
}

/** One alias's STATUS cell. */
function statusText(s: AliasStatus): string {
  const problems: string[] = [];
  if (!s.collectionExists) problems.push(`collection ${s.collection} does not exist (no ${s.collection}/_CURRENT)`);
  if (s.shadowed) problems.push(`a collection named ${s.alias} exists and is served instead`);
  return problems.length === 0 ? 'ok' : problems.join('; ');
}

function aliasRemoveCommand(): Command {
  const cmd = new ShardfleetCommand('rm').description('remove <alias> from --store (_ALIASES) in one conditional write').argument('<alias>', 'the alias to remove');
  addStoreOptions(cmd).action(async (alias: string, flags: StoreFlags) => {
    assertCollectionName(alias, '<alias>');
    const store = await openExistingStoreFromFlags(flags);
    try {
      const { aliasesLocation, updateAliases } = await import('../common/catalog/aliases.ts');
      const res = await updateAliases(store, [{ kind: 'remove', alias }]);
      process.stdout.write(`removed alias ${alias} (was -> ${res.before[alias]}) from ${aliasesLocation(store)}\n`);
    } finally {
      await store.close();
    }
  });
  return cmd;
}
