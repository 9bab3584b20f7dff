/**
 * The generic ORM methods every model answers over RPC (`search`, `search_read`, `read`,
 * `search_count`, `create`, `write`, `unlink`, `fields_get`, `name_search`, `name_get` ≤17, …),
 * with the Python signatures of the selected Odoo version (parameter names matter to callers that
 * pass keyword arguments, and to JSON-2 where every argument is named).
 */
import { likeMatch } from "./domain.js";
import { typeError, valueError } from "./errors.js";
import type { Env, FieldDef, MethodSpec, Vals } from "./orm.js";
import type { Profile } from "./profiles.js";

const asIds = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : []);

function fieldsList(v: unknown): string[] | null {
  if (v === null || v === undefined || v === false) return null;
  if (!Array.isArray(v))
    throw typeError(`'${typeof v === "string" ? "str" : typeof v}' object is not iterable`);
  return v as string[];
}

function limitOf(v: unknown): number | null {
  if (v === null || v === undefined || v === false || v === 0) return null;
  if (typeof v !== "number")
    throw typeError(`'<' not supported between instances of '${typeof v}' and 'int'`);
  return v;
}

function orderOf(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

/** fields_get() description of one field. */
export function describeField(env: Env, model: string, f: FieldDef): Vals {
  const out: Vals = {
    type: f.type,
    string: f.string,
    name: f.name,
    required: Boolean(f.required),
    readonly: Boolean(f.readonly || (f.compute && !f.related)),
    store: f.stored,
    searchable: f.stored || Boolean(f.related) || Boolean(f.search) || f.type === "one2many",
    sortable: f.stored,
    manual: Boolean(f.manual),
    company_dependent: false,
    depends: [],
    groupable: f.stored,
  };
  if (f.help) out["help"] = f.help;
  if (f.relation) out["relation"] = f.relation;
  if (f.type === "one2many") out["relation_field"] = f.inverse;
  if (f.selection) out["selection"] = f.selection.map(([k, v]) => [k, v]);
  if (f.type === "many2one" || f.type === "one2many" || f.type === "many2many") {
    out["domain"] = f.domain ?? [];
    out["context"] = {};
  }
  void env;
  void model;
  return out;
}

export function baseMethods(p: Profile): Record<string, MethodSpec> {
  const domainParam = p.searchParam;
  const methods: Record<string, MethodSpec> = {
    search: {
      model: true,
      params: p.searchCount
        ? [domainParam, "offset", "limit", "order", "count"]
        : [domainParam, "offset", "limit", "order"],
      required: 1,
      access: "read",
      fn: ({ env, model, kw }) => {
        const ids = env.search(model, kw[domainParam], {
          offset: (kw["offset"] as number) || 0,
          limit: limitOf(kw["limit"]),
          order: orderOf(kw["order"]),
        });
        return kw["count"] ? ids.length : ids;
      },
    },
    search_count: {
      model: true,
      params: [domainParam, "limit"],
      required: 1,
      access: "read",
      fn: ({ env, model, kw }) => env.search(model, kw[domainParam], { limit: limitOf(kw["limit"]) }).length,
    },
    search_read: {
      model: true,
      params: ["domain", "fields", "offset", "limit", "order"],
      varKw: true,
      access: "read",
      fn: ({ env, model, kw }) => {
        const ids = env.search(model, kw["domain"], {
          offset: (kw["offset"] as number) || 0,
          limit: limitOf(kw["limit"]),
          order: orderOf(kw["order"]),
        });
        return env.read(model, ids, fieldsList(kw["fields"]), kw["load"] ?? "_classic_read");
      },
    },
    read: {
      params: ["fields", "load"],
      access: "read",
      fn: ({ env, model, ids, kw }) =>
        env.read(model, ids, fieldsList(kw["fields"]), "load" in kw ? kw["load"] : "_classic_read"),
    },
    create: {
      model: true,
      params: ["vals_list"],
      required: 1,
      access: "create",
      asUser: true,
      fn: ({ env, model, kw }) => {
        const v = kw["vals_list"];
        if (Array.isArray(v)) return env.createMany(model, v as Vals[]);
        if (v && typeof v === "object") return env.create(model, v as Vals);
        throw typeError(`'${v === null ? "NoneType" : typeof v}' object is not iterable`);
      },
    },
    write: {
      params: ["vals"],
      required: 1,
      access: "write",
      asUser: true,
      fn: ({ env, model, ids, kw }) => {
        const vals = kw["vals"];
        if (!vals || typeof vals !== "object" || Array.isArray(vals))
          throw valueError("write() expects a dict of values");
        env.write(model, ids, vals as Vals);
        return true;
      },
    },
    unlink: {
      params: [],
      access: "unlink",
      asUser: true,
      fn: ({ env, model, ids }) => {
        env.unlink(model, ids);
        return true;
      },
    },
    exists: {
      params: [],
      access: "read",
      fn: ({ env, model, ids }) => ids.filter((id) => env.exists(model, id)),
    },
    fields_get: {
      model: true,
      params: ["allfields", "attributes"],
      access: "read",
      fn: ({ env, model, kw }) => {
        const def = env.model(model);
        const wanted = fieldsList(kw["allfields"]);
        const attrs = fieldsList(kw["attributes"]);
        const out: Vals = {};
        for (const f of Object.values(def.fields)) {
          if (wanted && !wanted.includes(f.name)) continue;
          const d = describeField(env, model, f);
          out[f.name] = attrs ? Object.fromEntries(Object.entries(d).filter(([k]) => attrs.includes(k))) : d;
        }
        return out;
      },
    },
    default_get: {
      model: true,
      params: ["fields_list"],
      required: 1,
      access: "read",
      fn: ({ env, model, kw }) => {
        const def = env.model(model);
        const out: Vals = {};
        for (const name of asIds(kw["fields_list"]) as unknown as string[]) {
          const f = def.fields[name];
          if (!f) continue;
          const key = `default_${name}`;
          if (key in env.context) out[name] = env.context[key];
          else if (f.default !== undefined)
            out[name] =
              typeof f.default === "function"
                ? (f.default as (e: Env, v: Vals) => unknown)(env, {})
                : f.default;
        }
        return out;
      },
    },
    name_search: {
      model: true,
      params: ["name", p.nameSearchParam, "operator", "limit"],
      access: "read",
      fn: ({ env, model, kw }) => {
        const name = (kw["name"] as string | undefined) ?? "";
        const operator = (kw["operator"] as string | undefined) ?? "ilike";
        const base = (kw[p.nameSearchParam] as unknown[] | undefined) ?? [];
        const ids = env.search(model, base, { limit: null });
        const hits = ids.filter((id) => {
          if (!name) return true;
          const dn = env.displayName(model, id);
          return operator === "=" ? dn === name : likeMatch(dn, name, operator.replace("not ", ""));
        });
        const limit = kw["limit"] === undefined ? 100 : limitOf(kw["limit"]);
        return hits.slice(0, limit ?? undefined).map((id) => [id, env.displayName(model, id)]);
      },
    },
    name_create: {
      model: true,
      params: ["name"],
      required: 1,
      access: "create",
      fn: ({ env, model, kw }) => {
        const rec = env.model(model).recName ?? "name";
        const id = env.create(model, { [rec]: kw["name"] });
        return [id, env.displayName(model, id)];
      },
    },
  };
  if (p.nameGet) {
    methods["name_get"] = {
      params: [],
      access: "read",
      fn: ({ env, model, ids }) => ids.map((id) => [id, env.displayName(model, env.row(model, id).id)]),
    };
  }
  if (p.version <= 17) {
    methods["check_access_rights"] = {
      model: true,
      params: ["operation", "raise_exception"],
      required: 1,
      access: "none",
      asUser: true,
      fn: ({ env, model, kw }) => {
        try {
          env.checkAccess(model, kw["operation"] as "read");
          return true;
        } catch (err) {
          if (kw["raise_exception"] === false) return false;
          throw err;
        }
      },
    };
  } else {
    methods["has_access"] = {
      params: ["operation"],
      required: 1,
      access: "none",
      asUser: true,
      fn: ({ env, model, kw }) => {
        try {
          env.checkAccess(model, kw["operation"] as "read");
          return true;
        } catch {
          return false;
        }
      },
    };
  }
  return methods;
}
