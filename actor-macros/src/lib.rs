//! `#[orbit_client::actor(interface = "com.example.Greeter")]` on a trait: the trait becomes
//! an Orbit actor interface. For a trait `Greeter` it generates
//!
//! * the trait itself, made `Send + 'static` and async (through `async_trait`), with default
//!   `on_activate` and `on_deactivate` hooks an implementation may override;
//! * `GreeterActor<T>`, which hosts any `T: Greeter` as an `orbit_client::Actor`: a call is
//!   dispatched on its JVM method name and declared parameter classes, as a Kotlin host does;
//! * `GreeterProxy`, a typed proxy whose methods call the actor wherever it is hosted (Rust or
//!   Kotlin), and `impl ActorInterface for dyn Greeter`, which ties the three together
//!   (`client.typed::<dyn Greeter>(key)`, `builder.host::<dyn Greeter, _>(..)`).
//!
//! Each method is `async fn name(&mut self, [context: &ActorContext,] args..) -> Result<R, ActorError>`.
//! The JVM method name is the Rust name in lowerCamelCase (`echo_string` is `echoString`), or
//! `#[orbit(name = "...")]`. A parameter's declared JVM class is its type's
//! `IntoJvm::DECLARED` (`i32` is `int`, `Option<i64>` is `java.lang.Long`, `String` is
//! `java.lang.String`, `Vec<T>` is `java.util.List`), or `#[orbit(class = "...")]` on the
//! parameter where the Kotlin declaration differs (a boxed `Long` parameter taking `i64`, say).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, ItemTrait, LitStr, Pat, PathArguments, ReturnType, TraitItem,
    TraitItemFn, Type, parse_macro_input,
};

/// Turns a trait into an Orbit actor interface; see the crate documentation.
#[proc_macro_attribute]
pub fn actor(arguments: TokenStream, item: TokenStream) -> TokenStream {
    let mut interface: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("interface") {
            interface = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("expected `interface = \"<the Kotlin interface's name>\"`"))
        }
    });
    parse_macro_input!(arguments with parser);
    let item = parse_macro_input!(item as ItemTrait);
    let Some(interface) = interface else {
        let error = syn::Error::new(Span::call_site(), "missing `interface = \"<the Kotlin interface's name>\"`")
            .to_compile_error();
        let original = without_orbit_attributes(item);
        return quote!(#original #error).into();
    };
    let original = item.clone();
    match expand(interface, item) {
        Ok(tokens) => tokens.into(),
        // The trait stays (as written, without its `#[orbit]` attributes), so the only error is
        // the one that says what is wrong, not a cascade of "cannot find trait".
        Err(error) => {
            let error = error.to_compile_error();
            let original = without_orbit_attributes(original);
            quote!(#original #error).into()
        }
    }
}

/// One parameter the JVM sees.
struct Parameter {
    name: Ident,
    ty: Type,
    class: Option<LitStr>,
}

/// One method of the interface.
struct Method {
    /// The method's `cfg` attributes (for its dispatch branch and proxy method) and its docs.
    cfgs: Vec<Attribute>,
    docs: Vec<Attribute>,
    rust_name: Ident,
    jvm_name: String,
    takes_context: bool,
    parameters: Vec<Parameter>,
    result: Type,
}

const HOOKS: [&str; 2] = ["on_activate", "on_deactivate"];

fn expand(interface: LitStr, mut item: ItemTrait) -> syn::Result<Tokens> {
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        return Err(syn::Error::new(item.generics.span(), "an actor interface cannot be generic"));
    }
    for bound in &item.supertraits {
        let allowed = match bound {
            syn::TypeParamBound::Trait(bound) => bound.path.is_ident("Send") || bound.path.is_ident("Sync"),
            syn::TypeParamBound::Lifetime(_) => true,
            _ => false,
        };
        if !allowed {
            return Err(syn::Error::new(
                bound.span(),
                "an actor interface lists all its methods itself (a Kotlin base interface's methods too); \
                 only `Send` and `Sync` may be supertraits",
            ));
        }
    }
    let mut methods = Vec::new();
    for trait_item in &mut item.items {
        match trait_item {
            TraitItem::Fn(function) => methods.push(method(function)?),
            other => return Err(syn::Error::new(other.span(), "an actor interface holds only async methods")),
        }
    }
    let trait_name = &item.ident;
    let visibility = &item.vis;
    let actor = format_ident!("{}Actor", trait_name);
    let proxy = format_ident!("{}Proxy", trait_name);
    let client = quote!(::orbit_client);

    // The trait: Send + 'static, async through async_trait, with the lifecycle hooks.
    item.supertraits.push(syn::parse_quote!(::core::marker::Send));
    item.supertraits.push(syn::parse_quote!('static));
    item.items.push(syn::parse_quote! {
        /// Runs before the first call; an error fails the call that caused the activation.
        async fn on_activate(&mut self, _context: &#client::ActorContext) -> ::core::result::Result<(), #client::ActorError> {
            ::core::result::Result::Ok(())
        }
    });
    item.items.push(syn::parse_quote! {
        /// Runs when the actor is deactivated.
        async fn on_deactivate(&mut self, _context: &#client::ActorContext, _reason: #client::DeactivationReason) {}
    });

    let dispatch = methods.iter().map(|m| {
        let jvm_name = &m.jvm_name;
        let rust_name = &m.rust_name;
        let classes = m.parameters.iter().map(|p| declared_class(p, &client));
        // Generated names only, so that no parameter name of the user's can shadow the call.
        let names: Vec<Ident> =
            (0..m.parameters.len()).map(|index| format_ident!("__orbit_argument_{}", index)).collect();
        let reads = m.parameters.iter().zip(&names).enumerate().map(|(index, (p, name))| {
            let ty = &p.ty;
            quote_spanned!(ty.span()=> let #name: #ty = __orbit_call.arg::<#ty>(#index)?;)
        });
        let context = m.takes_context.then(|| quote!(__orbit_context,));
        let cfgs = &m.cfgs;
        quote! {
            #(#cfgs)*
            if __orbit_call.is(#jvm_name, &[#(#classes),*]) {
                #(#reads)*
                let __orbit_answer = #trait_name::#rust_name(&mut self.0, #context #(#names),*).await?;
                return ::core::result::Result::Ok(#client::IntoJvm::into_jvm(__orbit_answer));
            }
        }
    });

    let proxy_methods = methods.iter().map(|m| {
        let jvm_name = &m.jvm_name;
        let rust_name = &m.rust_name;
        let result = &m.result;
        let parameters = m.parameters.iter().map(|p| {
            let (name, ty) = (&p.name, &p.ty);
            quote!(#name: #ty)
        });
        let arguments = m.parameters.iter().map(|p| {
            let name = &p.name;
            let class = declared_class(p, &client);
            quote! {
                #client::codec::Argument {
                    declared_class: ::std::string::ToString::to_string(#class),
                    value: #client::IntoJvm::into_jvm(#name),
                }
            }
        });
        let doc = format!("Calls `{jvm_name}` on the actor, wherever it is hosted.");
        let (cfgs, docs) = (&m.cfgs, &m.docs);
        let doc = if docs.is_empty() { quote!(#[doc = #doc]) } else { quote!(#(#docs)*) };
        quote! {
            #(#cfgs)*
            #doc
            pub async fn #rust_name(&self, #(#parameters),*) -> ::core::result::Result<#result, #client::CallError> {
                self.0.call::<#result>(#jvm_name, ::std::vec![#(#arguments),*]).await
            }
        }
    });

    let interface_doc = format!("Hosts any [`{trait_name}`] as an Orbit actor of `{}`.", interface.value());
    let proxy_doc = format!("A typed proxy to an actor of `{}`, hosted anywhere in the cluster.", interface.value());
    Ok(quote! {
        #[#client::async_trait]
        #item

        #[doc = #interface_doc]
        #visibility struct #actor<__OrbitImpl>(pub __OrbitImpl);

        #[#client::async_trait]
        impl<__OrbitImpl: #trait_name> #client::Actor for #actor<__OrbitImpl> {
            async fn on_activate(&mut self, context: &#client::ActorContext) -> ::core::result::Result<(), #client::ActorError> {
                #trait_name::on_activate(&mut self.0, context).await
            }

            async fn on_deactivate(&mut self, context: &#client::ActorContext, reason: #client::DeactivationReason) {
                #trait_name::on_deactivate(&mut self.0, context, reason).await
            }

            #[allow(unused_variables)]
            async fn invoke(
                &mut self,
                __orbit_context: &#client::ActorContext,
                __orbit_call: #client::Invocation,
            ) -> ::core::result::Result<#client::codec::JvmValue, #client::ActorError> {
                #(#dispatch)*
                ::core::result::Result::Err(#client::ActorError::no_such_method(&__orbit_call))
            }
        }

        impl<__OrbitImpl: #trait_name> #client::Hosts<dyn #trait_name> for #actor<__OrbitImpl> {}

        #[doc = #proxy_doc]
        #[derive(Clone)]
        #visibility struct #proxy(pub #client::ActorRef);

        impl #proxy {
            #(#proxy_methods)*
        }

        impl #client::ActorInterface for dyn #trait_name {
            const INTERFACE: &'static str = #interface;
            type Proxy = #proxy;
            fn proxy(actor: #client::ActorRef) -> #proxy {
                #proxy(actor)
            }
        }
    })
}

fn declared_class(parameter: &Parameter, client: &Tokens) -> Tokens {
    match &parameter.class {
        Some(class) => quote!(#class),
        None => {
            let ty = &parameter.ty;
            quote_spanned!(ty.span()=> <#ty as #client::IntoJvm>::DECLARED)
        }
    }
}

/// `item` without any `#[orbit(..)]` attribute on its methods or parameters.
fn without_orbit_attributes(mut item: ItemTrait) -> ItemTrait {
    let orbit = |attributes: &mut Vec<Attribute>| attributes.retain(|a| !a.path().is_ident("orbit"));
    for trait_item in &mut item.items {
        if let TraitItem::Fn(function) = trait_item {
            orbit(&mut function.attrs);
            for input in &mut function.sig.inputs {
                if let FnArg::Typed(typed) = input {
                    orbit(&mut typed.attrs);
                }
            }
        }
    }
    item
}

/// Reads (and strips) `#[orbit(name = "..")]` / `#[orbit(class = "..")]`.
fn take_orbit_attribute(attributes: &mut Vec<Attribute>, key: &str) -> syn::Result<Option<LitStr>> {
    let mut found = None;
    let mut error = None;
    attributes.retain(|attribute| {
        if !attribute.path().is_ident("orbit") {
            return true;
        }
        let parsed = attribute.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) {
                found = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else {
                Err(meta.error(format!("expected `{key} = \"...\"`")))
            }
        });
        if let Err(e) = parsed {
            error = Some(e);
        }
        false
    });
    match error {
        Some(error) => Err(error),
        None => Ok(found),
    }
}

fn method(function: &mut TraitItemFn) -> syn::Result<Method> {
    let signature = &function.sig;
    let rust_name = signature.ident.clone();
    // `r#type` is the Kotlin method `type`.
    let plain_name = rust_name.unraw().to_string();
    if HOOKS.contains(&plain_name.as_str()) {
        return Err(syn::Error::new(
            rust_name.span(),
            format!("`{rust_name}` is provided by the actor interface; override it in the implementation"),
        ));
    }
    if signature.asyncness.is_none() {
        return Err(syn::Error::new(signature.fn_token.span(), "actor methods are `async fn`"));
    }
    if !signature.generics.params.is_empty() {
        return Err(syn::Error::new(signature.generics.span(), "actor methods cannot be generic"));
    }
    if function.default.is_some() {
        return Err(syn::Error::new(rust_name.span(), "actor methods have no default body here"));
    }
    let jvm_name = match take_orbit_attribute(&mut function.attrs, "name")? {
        Some(name) => name.value(),
        None => lower_camel_case(&plain_name),
    };
    let signature = &mut function.sig;
    let mut inputs = signature.inputs.iter_mut();
    match inputs.next() {
        Some(FnArg::Receiver(receiver)) if receiver.reference.is_some() && receiver.mutability.is_some() => {}
        Some(other) => return Err(syn::Error::new(other.span(), "actor methods take `&mut self` first")),
        None => return Err(syn::Error::new(signature.ident.span(), "actor methods take `&mut self` first")),
    }
    let mut takes_context = false;
    let mut parameters = Vec::new();
    for (position, input) in inputs.enumerate() {
        let FnArg::Typed(typed) = input else {
            return Err(syn::Error::new(input.span(), "unexpected receiver"));
        };
        let class = take_orbit_attribute(&mut typed.attrs, "class")?;
        if is_context(&typed.ty) {
            if position != 0 || class.is_some() {
                return Err(syn::Error::new(
                    typed.ty.span(),
                    "the `&ActorContext` parameter comes right after `&mut self`, without `#[orbit]`",
                ));
            }
            takes_context = true;
            continue;
        }
        let Pat::Ident(name) = typed.pat.as_ref() else {
            return Err(syn::Error::new(typed.pat.span(), "name the parameter (a plain identifier)"));
        };
        if matches!(typed.ty.as_ref(), Type::Reference(_)) {
            return Err(syn::Error::new(typed.ty.span(), "actor parameters are owned values (`String`, not `&str`)"));
        }
        parameters.push(Parameter { name: name.ident.clone(), ty: (*typed.ty).clone(), class });
    }
    let result = match &signature.output {
        ReturnType::Type(_, ty) => result_type(ty).ok_or_else(|| {
            syn::Error::new(ty.span(), "actor methods return `Result<T, ActorError>` (T: IntoJvm, or `()`)")
        })?,
        ReturnType::Default => {
            return Err(syn::Error::new(
                signature.paren_token.span.close(),
                "actor methods return `Result<T, ActorError>` (T: IntoJvm, or `()`)",
            ));
        }
    };
    let cfgs = function.attrs.iter().filter(|a| a.path().is_ident("cfg")).cloned().collect();
    let docs = function.attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect();
    Ok(Method { cfgs, docs, rust_name, jvm_name, takes_context, parameters, result })
}

/// `&ActorContext` (any path ending in it; not `&mut`).
fn is_context(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else { return false };
    if reference.mutability.is_some() {
        return false;
    }
    let Type::Path(path) = reference.elem.as_ref() else { return false };
    path.path.segments.last().is_some_and(|s| s.ident == "ActorContext")
}

/// `T` of `Result<T, _>`.
fn result_type(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &last.arguments else { return None };
    match arguments.args.first()? {
        GenericArgument::Type(ty) if arguments.args.len() == 2 => Some(ty.clone()),
        _ => None,
    }
}

/// `echo_string` -> `echoString`.
fn lower_camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.trim_start_matches('_').chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::lower_camel_case;

    #[test]
    fn rust_names_become_jvm_names() {
        assert_eq!(lower_camel_case("greet"), "greet");
        assert_eq!(lower_camel_case("echo_string"), "echoString");
        assert_eq!(lower_camel_case("echo_nullable_long"), "echoNullableLong");
    }
}
