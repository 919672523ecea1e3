# Tags only this site's plugins define, as a real site's plugins would: feedsvc cannot run them, so it
# drops the tag and keeps a block's inner text. These two render exactly that, so the feeds can agree.
module RulesSite
  class Embed < Liquid::Tag
    def render(_context) = ""
  end

  class Aside < Liquid::Block
    def render(context) = super
  end
end

Liquid::Template.register_tag("youtube", RulesSite::Embed)
Liquid::Template.register_tag("aside", RulesSite::Aside)
