/**
 * Default balance factor of CLUSTER builds (`build --balanced`, on by default): no shard holds
 * more than this multiple of the mean shard size on the training sample. Kept in its own module
 * so the CLI can show it in `--help` without loading the writer. Chosen by measurement
 * (bench/balance-bench.ts): see the README's "Balanced shards".
 */
export const DEFAULT_BALANCE_FACTOR = 1.2;
