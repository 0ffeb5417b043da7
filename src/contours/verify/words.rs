//! The verification code's words: 256 things with a picture each, named in Russian and in
//! English, so two people read the same code aloud whatever language each page speaks
//! (the picture and the meaning match; word `n` is the same thing in both). Must not
//! change: a code's words are its bytes, and two versions of the list would disagree.
//!
//! Each list is one string of words separated by spaces (a table of 768 `&str` would
//! cost the wasm 6 KB of pointers).

use crate::i18n::Lang;

/// The pictures, in the words' order (those drawn as text by default carry U+FE0F, which
/// asks for the coloured picture).
const PICTURES: &str = "\
    🐶 🐱 🐭 🐹 🐰 🦊 🐻 🐼 🐨 🐯 🦁 🐮 🐷 🐸 🐵 🐔 \
    🐧 🐦 🦆 🦅 🦉 🐺 🐗 🐴 🦄 🐝 🐛 🦋 🐌 🐜 🦂 🐢 \
    🐍 🦎 🐙 🦑 🦀 🐠 🐬 🐳 🦈 🐊 🐘 🦏 🐪 🦒 🦓 🦌 \
    🐐 🐑 🦔 🦘 🦜 🦢 🦚 🦩 🐓 🦃 🦥 🦦 🦨 🦡 🦙 🦛 \
    🦗 🦟 🦞 🦐 🐉 🦖 🐾 🦴 🍎 🍐 🍊 🍋 🍌 🍉 🍇 🍓 \
    🍒 🍑 🍍 🥥 🥝 🍅 🍆 🥑 🥦 🥕 🌽 🥒 🍄 🥜 🌰 🍞 \
    🥐 🥨 🧀 🥚 🥞 🍔 🥔 🍕 🌮 🍝 🍜 🍣 🍩 🍪 🎂 🍫 \
    🍬 🍭 🍯 🥛 ☕ 🍵 🧂 🥄 🍴 🔪 🥣 🍳 🥟 🍚 🌸 🌹 \
    🌻 🌷 🌵 🌲 🌴 🍀 🍁 🌾 🌳 🌱 🌞 🌙 ⭐ 🌈 ⛅ ⚡ \
    ❄️ ⛄ 🔥 💧 🌊 🌋 🏔️ 🏝️ 🌍 ☔ 🌪️ 🏠 🚪 🪟 🛏️ 🛋️ \
    🪑 🚿 🛁 🧸 🎈 🎁 🕯️ 💡 🔑 🔒 🔔 ⏰ ⌛ 📷 📺 📻 \
    ☎️ 💻 🖨️ 📚 ✏️ 🖌️ 📎 ✂️ 📌 📦 ✉️ 🧲 🔨 🪚 🧹 🧺 \
    🧵 🧶 🪣 🧽 🧼 🪥 👓 👒 👑 👟 👢 🧤 🧣 👕 👖 👗 \
    🎒 👜 💍 💎 🧭 🗺️ ⚽ 🏀 🎾 🏓 ⛸️ 🎿 🛷 🪀 🎣 🎯 \
    🎲 🧩 ♟️ 🎨 🎸 🎹 🥁 🎺 🎻 🎤 🎧 🎬 🏆 🥇 🚗 🚕 \
    🚌 🚜 🚲 🛴 🚂 🚇 ✈️ 🚁 🚀 ⛵ ⚓ 🚦 ⛺ 🗽 🎡 🎠";

/// The words in Russian.
const RUSSIAN: &str = "\
    собака кошка мышь хомяк кролик лиса медведь панда коала тигр \
    лев корова свинья лягушка обезьяна курица пингвин птица утка орёл \
    сова волк кабан лошадь единорог пчела гусеница бабочка улитка муравей \
    скорпион черепаха змея ящерица осьминог кальмар краб рыба дельфин кит \
    акула крокодил слон носорог верблюд жираф зебра олень коза овца \
    ёж кенгуру попугай лебедь павлин фламинго петух индюк ленивец выдра \
    скунс барсук лама бегемот сверчок комар омар креветка дракон динозавр \
    след кость яблоко груша апельсин лимон банан арбуз виноград клубника \
    вишня персик ананас кокос киви помидор баклажан авокадо брокколи морковь \
    кукуруза огурец гриб арахис каштан хлеб круассан крендель сыр яйцо \
    блины бургер картошка пицца тако спагетти лапша суши пончик печенье \
    торт шоколад конфета леденец мёд молоко кофе чай соль ложка \
    вилка нож миска сковорода пельмени рис сакура роза подсолнух тюльпан \
    кактус ёлка пальма клевер клён колос дерево росток солнце луна \
    звезда радуга облако молния снежинка снеговик огонь капля волна вулкан \
    гора остров планета зонт смерч дом дверь окно кровать диван \
    стул душ ванна мишка шарик подарок свеча лампа ключ замок \
    колокол будильник часы камера телевизор радио телефон ноутбук принтер книги \
    карандаш кисть скрепка ножницы кнопка коробка письмо магнит молоток пила \
    метла корзина нитки клубок ведро губка мыло щётка очки шляпа \
    корона кроссовок сапог перчатки шарф футболка джинсы платье рюкзак сумка \
    кольцо алмаз компас карта мяч баскетбол теннис пинг-понг коньки лыжи \
    санки йо-йо удочка мишень кубик пазл шахматы палитра гитара пианино \
    барабан труба скрипка микрофон наушники кино приз медаль машина такси \
    автобус трактор велосипед самокат паровоз метро самолёт вертолёт ракета парусник \
    якорь светофор палатка статуя колесо карусель";

/// The words in English.
const ENGLISH: &str = "\
    dog cat mouse hamster rabbit fox bear panda koala tiger lion cow \
    pig frog monkey chicken penguin bird duck eagle owl wolf boar horse \
    unicorn bee caterpillar butterfly snail ant scorpion turtle snake lizard octopus squid \
    crab fish dolphin whale shark crocodile elephant rhino camel giraffe zebra deer \
    goat sheep hedgehog kangaroo parrot swan peacock flamingo rooster turkey sloth otter \
    skunk badger llama hippo cricket mosquito lobster shrimp dragon dinosaur pawprint bone \
    apple pear orange lemon banana watermelon grapes strawberry cherry peach pineapple coconut \
    kiwi tomato eggplant avocado broccoli carrot corn cucumber mushroom peanut chestnut bread \
    croissant pretzel cheese egg pancakes burger potato pizza taco spaghetti noodles sushi \
    donut cookie cake chocolate candy lollipop honey milk coffee tea salt spoon \
    fork knife bowl pan dumplings rice blossom rose sunflower tulip cactus fir \
    palm clover maple wheat tree sprout sun moon star rainbow cloud lightning \
    snowflake snowman fire drop wave volcano mountain island planet umbrella tornado house \
    door window bed sofa chair shower bathtub teddy balloon gift candle lamp \
    key lock bell alarm hourglass camera television radio telephone laptop printer books \
    pencil brush paperclip scissors pin box letter magnet hammer saw broom basket \
    thread yarn bucket sponge soap toothbrush glasses hat crown sneaker boot gloves \
    scarf shirt jeans dress backpack handbag ring diamond compass map ball basketball \
    tennis pingpong skates skis sled yoyo rod target dice puzzle chess palette \
    guitar piano drum trumpet violin microphone headphones movie trophy medal car taxi \
    bus tractor bicycle scooter locomotive subway airplane helicopter rocket sailboat anchor trafficlight \
    tent statue wheel carousel";

/// Word `index` of the code: its picture and its name in `lang`.
pub fn word(index: u8, lang: Lang) -> (&'static str, &'static str) {
    let names = match lang {
        Lang::Ru => RUSSIAN,
        Lang::En => ENGLISH,
    };
    let nth = |list: &'static str| list.split(' ').nth(usize::from(index)).unwrap_or("?");
    (nth(PICTURES), nth(names))
}

#[cfg(test)]
mod tests {
    use super::{ENGLISH, PICTURES, RUSSIAN, word};
    use crate::i18n::Lang;
    use std::collections::HashSet;

    #[test]
    fn each_list_has_256_different_words() {
        for list in [PICTURES, RUSSIAN, ENGLISH] {
            let words: Vec<_> = list.split(' ').collect();
            assert_eq!(words.len(), 256);
            assert_eq!(
                words.iter().collect::<HashSet<_>>().len(),
                256,
                "all different"
            );
            assert!(words.iter().all(|w| !w.is_empty()));
        }
    }

    #[test]
    fn names_are_plain_words() {
        for name in RUSSIAN.split(' ').chain(ENGLISH.split(' ')) {
            assert!(
                name.chars().all(|c| c.is_alphabetic() || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn a_word_is_the_same_thing_in_both_languages() {
        assert_eq!(word(0, Lang::Ru), ("🐶", "собака"));
        assert_eq!(word(0, Lang::En), ("🐶", "dog"));
        assert_eq!(word(255, Lang::En).1, "carousel");
        assert_eq!(word(255, Lang::Ru).1, "карусель");
    }
}
