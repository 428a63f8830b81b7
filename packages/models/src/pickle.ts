/**
 * A pickle reader that never executes anything (protocols 0-5, the opcodes of Python's
 * `pickletools`), for the `data.pkl` of `torch.save` files.
 *
 * Python's unpickler imports whatever a `GLOBAL` names and calls it on `REDUCE`; that is how a
 * pickle runs `os.system`. Here a global is only a name (`PickleGlobal`), and calling one builds an
 * inert record (`PickleObject`: the callable's name, its arguments and the state set on it) unless
 * the caller passed a pure interpretation for that exact name (`OrderedDict` -> a dict, torch's
 * tensor rebuilders -> a tensor description). Every read is bounds-checked; errors name the
 * input and the byte offset. Nothing is copied on `GET`, so a pickle cannot amplify itself.
 *
 * Values: None -> null; bool; int -> number (bigint past 2^53); float -> number; str -> string;
 * bytes -> Uint8Array; list -> array; tuple -> frozen array; dict -> an object without prototype
 * (keys as strings: Python's 0 and '0' meet); set/frozenset -> array.
 */

export class PickleError extends Error {
  override name = 'PickleError';
}

/** A reference to a Python class or function by name; never imported. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }

  toJSON(): string {
    return `<global ${this.qualifiedName}>`;
  }
}

/**
 * What calling or instantiating a global would have made, kept as data: `argparse.Namespace(...)`
 * is `{ callable: 'argparse.Namespace', args: [], state: { lr: 0.0005, ... } }`.
 */
export class PickleObject {
  /** Set by BUILD (`__setstate__`/`__dict__`): for most classes the object's fields. */
  state: unknown = undefined;
  /** Items added by SETITEM(S) / APPEND(S) to a dict or list subclass. */
  dictItems: Record<string, unknown> | undefined;
  listItems: unknown[] | undefined;

  constructor(
    readonly callable: string,
    readonly args: readonly unknown[],
  ) {}

  /** The object's attributes when its state is a dict (e.g. a Namespace's arguments), else `{}`. */
  get fields(): Record<string, unknown> {
    const s = Array.isArray(this.state) ? this.state[0] : this.state; // (dict, slots) for classes with __slots__
    return isPickleDict(s) ? s : {};
  }

  toJSON(): unknown {
    return { callable: this.callable, args: this.args, ...(this.state !== undefined ? { state: this.state } : {}) };
  }
}

export function isPickleDict(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === null;
}

export function newPickleDict(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

/** Pure interpretations of named callables: `(args) => value`; throw an Error to reject the arguments. */
export type PickleCallables = Record<string, (args: readonly unknown[]) => unknown>;

export interface UnpickleOptions {
  /** Names the input in error messages. */
  name?: string;
  /** Interpretations for REDUCE/NEWOBJ of these qualified names (in addition to the built-in ones). */
  callables?: PickleCallables;
  /** The value of a persistent id (BINPERSID/PERSID); without it, persistent ids are an error. */
  persistentLoad?: (pid: unknown) => unknown;
}

function dictKey(k: unknown): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  if (k === null) return 'None';
  if (typeof k === 'boolean') return k ? 'True' : 'False';
  if (Array.isArray(k)) return `(${k.map(dictKey).join(', ')})`;
  if (k instanceof PickleGlobal) return k.qualifiedName;
  return String(k);
}

function setItem(target: unknown, k: unknown, v: unknown): void {
  if (isPickleDict(target)) target[dictKey(k)] = v;
  else if (target instanceof PickleObject) (target.dictItems ??= newPickleDict())[dictKey(k)] = v;
  else throw new Error(`SETITEM on a ${describe(target)}, expected a dict`);
}

function appendItem(target: unknown, v: unknown): void {
  if (Array.isArray(target) && !Object.isFrozen(target)) target.push(v);
  else if (target instanceof PickleObject) (target.listItems ??= []).push(v);
  else throw new Error(`APPEND on a ${describe(target)}, expected a list`);
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'tuple' : 'list';
  if (isPickleDict(v)) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PickleGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof PickleObject) return `${v.callable} object`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

const BUILTIN_CALLABLES: PickleCallables = {
  'collections.OrderedDict': (args) => {
    const d = newPickleDict();
    const items = args[0];
    if (items !== undefined) {
      if (!Array.isArray(items)) throw new Error(`OrderedDict(${describe(items)}): expected a list of pairs`);
      for (const p of items) {
        if (!Array.isArray(p) || p.length !== 2) throw new Error('OrderedDict: expected (key, value) pairs');
        d[dictKey(p[0])] = p[1];
      }
    }
    return d;
  },
  'builtins.set': (args) => (Array.isArray(args[0]) ? [...args[0]] : []),
  'builtins.frozenset': (args) => Object.freeze(Array.isArray(args[0]) ? [...args[0]] : []),
  'builtins.bytearray': (args) => (args[0] instanceof Uint8Array ? args[0] : new Uint8Array(0)),
  // Protocol 2 writes Python 3 bytes as _codecs.encode(text, 'latin1').
  '_codecs.encode': (args) => {
    const [text, enc] = args;
    if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new Error('_codecs.encode: expected (str, "latin1")');
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
    return out;
  },
};

// Opcodes (pickletools); names as in Python's pickle.py.
const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, FLOAT: 0x46, INT: 0x49, BININT: 0x4a,
  BININT1: 0x4b, LONG: 0x4c, BININT2: 0x4d, NONE: 0x4e, PERSID: 0x50, BINPERSID: 0x51, REDUCE: 0x52,
  STRING: 0x53, BINSTRING: 0x54, SHORT_BINSTRING: 0x55, UNICODE: 0x56, BINUNICODE: 0x58, APPEND: 0x61,
  BUILD: 0x62, GLOBAL: 0x63, DICT: 0x64, EMPTY_DICT: 0x7d, APPENDS: 0x65, GET: 0x67, BINGET: 0x68,
  INST: 0x69, LONG_BINGET: 0x6a, LIST: 0x6c, EMPTY_LIST: 0x5d, OBJ: 0x6f, PUT: 0x70, BINPUT: 0x71,
  LONG_BINPUT: 0x72, SETITEM: 0x73, TUPLE: 0x74, EMPTY_TUPLE: 0x29, SETITEMS: 0x75, BINFLOAT: 0x47,
  PROTO: 0x80, NEWOBJ: 0x81, EXT1: 0x82, EXT2: 0x83, EXT4: 0x84, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b, BINBYTES: 0x42, SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e, EMPTY_SET: 0x8f, ADDITEMS: 0x90,
  FROZENSET: 0x91, NEWOBJ_EX: 0x92, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95, BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97, READONLY_BUFFER: 0x98,
} as const;

const MARK = Symbol('mark');

/** Protocol 0-2 pickles name modules as Python 2 did (Python's `fix_imports`). */
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/** Parse a pickle into plain data (see the module comment). Throws `PickleError` naming the offset. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): unknown {
  const name = options.name ?? `<${bytes.length}-byte pickle>`;
  const callables = { ...BUILTIN_CALLABLES, ...options.callables };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let opAt = 0;

  const fail = (what: string): never => {
    throw new PickleError(`${name}: pickle offset ${opAt}: ${what}`);
  };
  const need = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > bytes.length) {
      fail(`needs ${n} more bytes but ${bytes.length - pos} remain (truncated or corrupted)`);
    }
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => bytes[need(1)] as number;
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const i32 = (): number => view.getInt32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`length ${v} is out of range`) : Number(v);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('a text argument has no terminating newline (truncated)');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const take = (n: number): Uint8Array => {
    const at = need(n);
    return bytes.slice(at, at + n);
  };
  const text = (n: number): string => {
    const at = need(n);
    // Keys and names are short ASCII: build them directly (TextDecoder's per-call cost dominates).
    if (n <= 64) {
      let ascii = '';
      for (let i = at; i < at + n; i++) {
        const c = bytes[i] as number;
        if (c >= 0x80) break;
        ascii += String.fromCharCode(c);
      }
      if (ascii.length === n) return ascii;
    }
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const pop = (): unknown => (stack.length === 0 || stack[stack.length - 1] === MARK ? fail('stack underflow (malformed pickle)') : stack.pop());
  const top = (): unknown => (stack.length === 0 || stack[stack.length - 1] === MARK ? fail('stack underflow (malformed pickle)') : stack[stack.length - 1]);
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop to (malformed pickle)');
    const items = stack.splice(m as number);
    items.shift(); // the MARK itself
    if (items.includes(MARK)) fail('unbalanced MARK (malformed pickle)');
    return items;
  };
  const getMemo = (i: number): unknown => (memo.has(i) ? memo.get(i) : fail(`memo key ${i} was never stored`));
  const signedLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    // One hex parse: linear in the length, where byte-by-byte BigInt shifts would be quadratic.
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += (b[i] as number).toString(16).padStart(2, '0');
    let v = BigInt(`0x${hex}`);
    if ((b[b.length - 1] as number) & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const decimal = (s: string, what: string): number | bigint => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[+-]?\d+$/.test(t)) fail(`${what} '${s.slice(0, 40)}' is not an integer`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof PickleGlobal)) fail(`cannot call a ${describe(fn)} (only globals are callable)`);
    if (!Array.isArray(args)) fail(`arguments of ${(fn as PickleGlobal).qualifiedName} must be a tuple, got ${describe(args)}`);
    const g = fn as PickleGlobal;
    const impl = callables[g.qualifiedName];
    if (!impl) return new PickleObject(g.qualifiedName, args as unknown[]);
    try {
      return impl(args as unknown[]);
    } catch (err) {
      return fail(`${g.qualifiedName}: ${(err as Error).message}`);
    }
  };
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) fail('persistent id in a pickle read without a persistent loader');
    try {
      return options.persistentLoad?.(pid);
    } catch (err) {
      return fail((err as Error).message);
    }
  };

  for (;;) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case OP.PROTO: {
        const v = u8();
        if (v > 5) fail(`pickle protocol ${v} is newer than 5`);
        break;
      }
      case OP.FRAME:
        u64(); // frame length: a read-ahead hint only
        break;
      case OP.STOP: {
        const v = pop();
        if (stack.length !== 0) fail(`STOP with ${stack.length} values left on the stack (malformed pickle)`);
        return v;
      }
      case OP.MARK:
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case OP.POP:
        if (stack[stack.length - 1] === MARK) popMark();
        else pop();
        break;
      case OP.POP_MARK:
        popMark();
        break;
      case OP.DUP:
        stack.push(top());
        break;
      case OP.NONE:
        stack.push(null);
        break;
      case OP.NEWTRUE:
        stack.push(true);
        break;
      case OP.NEWFALSE:
        stack.push(false);
        break;
      case OP.BININT:
        stack.push(i32());
        break;
      case OP.BININT1:
        stack.push(u8());
        break;
      case OP.BININT2:
        stack.push(u16());
        break;
      case OP.LONG1:
        stack.push(signedLE(take(u8())));
        break;
      case OP.LONG4: {
        const n = i32();
        if (n < 0) fail(`LONG4 with negative length ${n}`);
        stack.push(signedLE(take(n)));
        break;
      }
      case OP.INT: {
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : decimal(s, 'INT'));
        break;
      }
      case OP.LONG:
        stack.push(decimal(line(), 'LONG'));
        break;
      case OP.FLOAT: {
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[+-]?nan$/i.test(s)) fail(`FLOAT '${s.slice(0, 40)}' is not a number`);
        stack.push(v);
        break;
      }
      case OP.BINFLOAT:
        stack.push(view.getFloat64(need(8), false)); // big-endian, as pickle writes it
        break;
      case OP.BINUNICODE:
        stack.push(text(u32()));
        break;
      case OP.SHORT_BINUNICODE:
        stack.push(text(u8()));
        break;
      case OP.BINUNICODE8:
        stack.push(text(u64()));
        break;
      case OP.UNICODE: {
        // raw-unicode-escape: \uXXXX and \UXXXXXXXX escapes in latin-1 text
        const s = line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, b: string | undefined) =>
          String.fromCodePoint(Math.min(parseInt((a ?? b) as string, 16), 0x10ffff)),
        );
        stack.push(s);
        break;
      }
      case OP.BINSTRING: {
        const n = i32();
        if (n < 0) fail(`BINSTRING with negative length ${n}`);
        stack.push(latin1.decode(take(n)));
        break;
      }
      case OP.SHORT_BINSTRING:
        stack.push(latin1.decode(take(u8())));
        break;
      case OP.STRING: {
        const s = line();
        const q = s[0];
        if (s.length < 2 || (q !== '"' && q !== "'") || s[s.length - 1] !== q) fail('STRING argument is not quoted');
        stack.push(s.slice(1, -1));
        break;
      }
      case OP.BINBYTES:
        stack.push(take(u32()));
        break;
      case OP.SHORT_BINBYTES:
        stack.push(take(u8()));
        break;
      case OP.BINBYTES8:
      case OP.BYTEARRAY8:
        stack.push(take(u64()));
        break;
      case OP.EMPTY_TUPLE:
        stack.push(Object.freeze([]));
        break;
      case OP.TUPLE1:
        stack.push(Object.freeze([pop()]));
        break;
      case OP.TUPLE2: {
        const b = pop();
        const a = pop();
        stack.push(Object.freeze([a, b]));
        break;
      }
      case OP.TUPLE3: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(Object.freeze([a, b, c]));
        break;
      }
      case OP.TUPLE:
        stack.push(Object.freeze(popMark()));
        break;
      case OP.EMPTY_LIST:
        stack.push([]);
        break;
      case OP.LIST:
        stack.push(popMark());
        break;
      case OP.APPEND: {
        const v = pop();
        try {
          appendItem(top(), v);
        } catch (err) {
          fail((err as Error).message);
        }
        break;
      }
      case OP.APPENDS: {
        const items = popMark();
        const target = top();
        try {
          for (const v of items) appendItem(target, v);
        } catch (err) {
          fail((err as Error).message);
        }
        break;
      }
      case OP.EMPTY_DICT:
        stack.push(newPickleDict());
        break;
      case OP.DICT: {
        const items = popMark();
        if (items.length % 2) fail('DICT with an odd number of items');
        const d = newPickleDict();
        for (let i = 0; i < items.length; i += 2) d[dictKey(items[i])] = items[i + 1];
        stack.push(d);
        break;
      }
      case OP.SETITEM: {
        const v = pop();
        const k = pop();
        try {
          setItem(top(), k, v);
        } catch (err) {
          fail((err as Error).message);
        }
        break;
      }
      case OP.SETITEMS: {
        const items = popMark();
        if (items.length % 2) fail('SETITEMS with an odd number of items');
        const target = top();
        try {
          for (let i = 0; i < items.length; i += 2) setItem(target, items[i], items[i + 1]);
        } catch (err) {
          fail((err as Error).message);
        }
        break;
      }
      case OP.EMPTY_SET:
        stack.push([]);
        break;
      case OP.ADDITEMS: {
        const items = popMark();
        const target = top();
        if (!Array.isArray(target) || Object.isFrozen(target)) fail(`ADDITEMS on a ${describe(target)}, expected a set`);
        (target as unknown[]).push(...items);
        break;
      }
      case OP.FROZENSET:
        stack.push(Object.freeze(popMark()));
        break;
      case OP.PUT: {
        const k = decimal(line(), 'PUT');
        memo.set(Number(k), top());
        break;
      }
      case OP.BINPUT:
        memo.set(u8(), top());
        break;
      case OP.LONG_BINPUT:
        memo.set(u32(), top());
        break;
      case OP.MEMOIZE:
        memo.set(memo.size, top());
        break;
      case OP.GET:
        stack.push(getMemo(Number(decimal(line(), 'GET'))));
        break;
      case OP.BINGET:
        stack.push(getMemo(u8()));
        break;
      case OP.LONG_BINGET:
        stack.push(getMemo(u32()));
        break;
      case OP.GLOBAL: {
        const module = line();
        stack.push(new PickleGlobal(PY2_MODULES[module] ?? module, line()));
        break;
      }
      case OP.STACK_GLOBAL: {
        const n = pop();
        const m = pop();
        if (typeof m !== 'string' || typeof n !== 'string') fail('STACK_GLOBAL needs two strings (module, name)');
        stack.push(new PickleGlobal(m as string, n as string));
        break;
      }
      case OP.REDUCE: {
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case OP.NEWOBJ: {
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case OP.NEWOBJ_EX: {
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        const obj = call(cls, args);
        if (obj instanceof PickleObject && isPickleDict(kwargs) && Object.keys(kwargs).length) obj.state = { kwargs };
        stack.push(obj);
        break;
      }
      case OP.OBJ: {
        const items = popMark();
        const [cls, ...args] = items;
        stack.push(call(cls, Object.freeze(args)));
        break;
      }
      case OP.INST: {
        const module = line();
        const cls = new PickleGlobal(PY2_MODULES[module] ?? module, line());
        stack.push(call(cls, Object.freeze(popMark())));
        break;
      }
      case OP.BUILD: {
        const state = pop();
        const target = top();
        // Only inert records take state; a dict's (OrderedDict `_metadata`) or a tensor's is dropped.
        if (target instanceof PickleObject) target.state = state;
        break;
      }
      case OP.BINPERSID:
        stack.push(persistent(pop()));
        break;
      case OP.PERSID:
        stack.push(persistent(line()));
        break;
      case OP.EXT1:
      case OP.EXT2:
      case OP.EXT4:
        fail('extension registry codes (EXT1/2/4) are not supported');
        break;
      case OP.NEXT_BUFFER:
      case OP.READONLY_BUFFER:
        fail('out-of-band buffers (protocol 5 NEXT_BUFFER) are not supported');
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or corrupted)`);
    }
  }
}
