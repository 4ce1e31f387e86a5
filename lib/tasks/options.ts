/** Options of a task group, their defaults and the validation of task names. */
import { InvalidOptionError, InvalidPathError } from '../errors.js';
import type { Control } from '../leader/control.js';
import type { AclEntry } from '../lock/acl.js';
import { checkConnectionLossPolicy, type ConnectionLossPolicy } from '../session/options.js';
import { defaultId } from '../util/default-id.js';
import { childPath, validatePath } from '../util/paths.js';

/** The tasks of a group: the same list on every member, or a function returning the current one. */
export type TaskList = readonly string[] | (() => readonly string[]);

/** One term of one task: do the work, return when `control.shouldStop()` (or `control.signal` aborts). */
export type TaskRun = (task: string, control: Control) => Promise<void> | void;

/** Options of {@link Coordinator.createTaskGroup}. */
export interface TaskGroupOptions {
  /**
   * The task names: an array (the same on every member) or a function returning one, read at
   * start() and again every `refreshMs` and on every rebalance. Each name is one path segment:
   * no `/`, not `.` or `..`, not starting with `_` (reserved, e.g. `_members`).
   */
  tasks: TaskList;
  /** One term of one task; runs again after it returns (at most once per `minimumWorkTimeMs`). */
  run: TaskRun;
  /** This member's id: its node `<path>/_members/<id>` and its lock nodes' data (default host:pid:random). */
  id?: string;
  /** At most one term start per task per this many ms (default 2000). */
  minimumWorkTimeMs?: number;
  /** Pause before a task whose `run` threw is contended again (default 1000 ms). */
  errorBackoffMs?: number;
  /** How often a function `tasks` is read again (default 10 000 ms). */
  refreshMs?: number;
  /**
   * How often each held task lock is verified against the server beside the watch on its node
   * (default 30 000 ms; see README "Task groups" for why a long interval is safe).
   */
  verifyIntervalMs?: number;
  /** What a suspended connection means for a term (default: the coordinator's). */
  connectionLossPolicy?: ConnectionLossPolicy;
  /** A term is told to stop this long before its ownership deadline (default: the coordinator's). */
  stopWindowMs?: number;
  /** ACL of the member and lock nodes (default: open). */
  acl?: AclEntry[];
}

/** Options after validation, with defaults. */
export interface ResolvedTaskGroupOptions {
  path: string;
  id: string;
  run: TaskRun;
  tasks: TaskList;
  minimumWorkTimeMs: number;
  errorBackoffMs: number;
  refreshMs: number;
  verifyIntervalMs: number;
  connectionLossPolicy: ConnectionLossPolicy | undefined;
  stopWindowMs: number | undefined;
  acl: AclEntry[] | undefined;
}

/** Name of the membership folder below the group path. */
export const MEMBERS_NODE = '_members';

function checkMs(name: string, value: unknown, fallback: number, min: number, max = 2 ** 31 - 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(
      name,
      `must be an integer number of ms in [${min}, ${max}], got ${String(value)}`,
    );
  }
  return value;
}

/** Throws InvalidOptionError unless `name` is a valid, unreserved path segment. */
export function checkSegment(option: string, name: unknown, groupPath: string): string {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidOptionError(
      option,
      `every name must be a non-empty string, got ${JSON.stringify(name)}`,
    );
  }
  if (name.includes('/'))
    throw new InvalidOptionError(option, `"${name}" contains "/": names are one path segment`);
  if (name === '.' || name === '..')
    throw new InvalidOptionError(option, `"${name}" is not a valid node name`);
  if (option === 'tasks' && name.startsWith('_')) {
    throw new InvalidOptionError(
      option,
      `"${name}" starts with "_": such names are reserved (${MEMBERS_NODE})`,
    );
  }
  try {
    validatePath(childPath(groupPath, name));
  } catch (error) {
    if (error instanceof InvalidPathError)
      throw new InvalidOptionError(option, `"${name}": ${error.message}`);
    throw error;
  }
  return name;
}

/** Validates a task list: non-empty, unique, valid names. Returns a sorted copy. */
export function checkTaskList(list: unknown, groupPath: string): string[] {
  if (!Array.isArray(list)) {
    throw new InvalidOptionError(
      'tasks',
      `must be an array of names (or a function returning one), got ${typeof list}`,
    );
  }
  if (list.length === 0)
    throw new InvalidOptionError('tasks', 'is empty: a task group needs at least one task');
  const seen = new Set<string>();
  for (const name of list) {
    checkSegment('tasks', name, groupPath);
    if (seen.has(name as string))
      throw new InvalidOptionError('tasks', `duplicate task name "${String(name)}"`);
    seen.add(name as string);
  }
  return [...seen].sort();
}

/** Reads the task list (calling the function form) and validates it. */
export function readTaskList(tasks: TaskList, groupPath: string): string[] {
  return checkTaskList(typeof tasks === 'function' ? tasks() : tasks, groupPath);
}

/** Validates a task group's options (the task list itself too, when it is an array). */
export function resolveTaskGroupOptions(path: string, options: TaskGroupOptions): ResolvedTaskGroupOptions {
  validatePath(path);
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'must be an object');
  if (typeof options.run !== 'function')
    throw new InvalidOptionError('run', 'must be a function (task, control) => ...');
  if (typeof options.tasks !== 'function') checkTaskList(options.tasks, path);
  const id = options.id ?? defaultId();
  checkSegment('id', id, childPath(path, MEMBERS_NODE));
  return {
    path,
    id,
    run: options.run,
    tasks: options.tasks,
    minimumWorkTimeMs: checkMs('minimumWorkTimeMs', options.minimumWorkTimeMs, 2000, 0),
    errorBackoffMs: checkMs('errorBackoffMs', options.errorBackoffMs, 1000, 0),
    refreshMs: checkMs('refreshMs', options.refreshMs, 10_000, 10),
    verifyIntervalMs: checkMs('verifyIntervalMs', options.verifyIntervalMs, 30_000, 10, 3_600_000),
    connectionLossPolicy: checkConnectionLossPolicy(options.connectionLossPolicy),
    stopWindowMs: options.stopWindowMs,
    acl: options.acl,
  };
}
