// The `X-Pinecone-Api-Version` header selects request and response shapes. SDK v6 sends 2025-04,
// v7 2025-10, v8 2026-04 and v9 2026-07. Versions before 2026-07 share the "legacy" index model
// (`dimension`, `metric`, `spec`); 2026-07 moved to `schema.fields` and `deployment`.

export const API_VERSIONS = ['2024-07', '2024-10', '2025-01', '2025-04', '2025-10', '2026-04', '2026-07'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

/** Used when a request carries no version header (curl, older clients). */
export const DEFAULT_API_VERSION: ApiVersion = '2025-04';

export const LATEST_API_VERSION: ApiVersion = '2026-07';

export function parseApiVersion(header: string | string[] | undefined): ApiVersion | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return DEFAULT_API_VERSION;
  return (API_VERSIONS as readonly string[]).includes(value) ? (value as ApiVersion) : undefined;
}

export function atLeast(version: ApiVersion, min: ApiVersion): boolean {
  return version >= min;
}

/** 2026-07 index model: `schema.fields` + `deployment` instead of `dimension`/`metric`/`spec`. */
export function usesSchemaModel(version: ApiVersion): boolean {
  return version >= '2026-07';
}
