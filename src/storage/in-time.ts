/** `p`, or a rejection once `ms` have passed (a storage that hangs is not waited for). */
export function inTime<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("the shared storage is late")), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
