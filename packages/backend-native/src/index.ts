/** Availability of the compiled addon; the kernels land with the native backend itself. */
export function nativeBackendStatus(): { available: boolean; reason: string } {
  return { available: false, reason: '@ssl/backend-native has no compiled kernels yet' };
}

export function registerNativeBackend(_options: { threads?: number } = {}): void {
  throw new Error(nativeBackendStatus().reason);
}
