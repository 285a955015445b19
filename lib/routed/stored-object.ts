// A record read back from etcd is input like any other: someone may have
// written it by hand, or an older version. Every decoder starts the same way,
// from the stored text to an object whose fields it then checks one by one.

/** The stored JSON object, or a string naming what is wrong with it, prefixed by `what`. */
export function storedObject(what: string, text: string): Record<string, any> | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return `${what}: the stored value is not JSON`;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${what}: the stored value is not an object`;
  return raw as Record<string, any>;
}
